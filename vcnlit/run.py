"""Train the three stages and evaluate: ``python -m vcnlit.run +experiment=scic_lowres``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    from vcnlit.errors import exit_on_user_error
    from vcnlit.training import train

    with exit_on_user_error():
        train(cfg)


if __name__ == "__main__":
    main()
