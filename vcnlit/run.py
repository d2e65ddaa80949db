"""Train the three stages and evaluate: ``python -m vcnlit.run +experiment=scic_lowres``.

Sweeps go through Hydra's multirun (``-m``): ``codec.quality=10,20,40`` for RD points,
``hparams_search=optuna`` for hyperparameters, ``hydra/launcher=slurm`` for a cluster.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from vcnlit.errors import exit_on_user_error
from vcnlit.sweeps import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric``'s value (the objective of a hyperparameter sweep), or None."""
    from vcnlit.training import train  # imports Lightning: after Hydra has parsed the command line

    with exit_on_user_error():
        return train(cfg)


if __name__ == "__main__":
    main()
