"""Training runs that the ``experiments/`` scripts (``make tables``, ``make ablation``) train or reuse:
which command-line overrides reach training, the folder a set of them trains in, and the results
folder, which a run whose overrides change the results never shares with the full results."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

#: training overrides that do not change the trained model (kept out of the run folder's tag)
EVAL_ONLY = frozenset({"data.test_dir", "data.max_eval_images", "data.on_bad_image", "logger"})
#: overrides named by a word in the results folder's name (``make tables ARGS='model.channels=3'`` -> ``embedded_rgb``)
NAMED = {"model.channels=3": "rgb"}
#: overrides that do not change the results (kept out of the results folder's name)
SAME_RESULTS = frozenset({"data.test_dir", "data.on_bad_image", "logger", "runs_dir", "results_dir", "dataset"})


def override_key(override: str) -> str:
    """``a.b`` of ``+a.b=v``, ``~a.b`` or ``a.b=v``."""
    return override.split("=", 1)[0].lstrip("+~")


def tag(overrides: list[str]) -> str:
    """Folder name of a set of overrides: ``default``, ``debug-smoke``, or a hash when long."""
    if not overrides:
        return "default"
    out = re.sub(r"[^A-Za-z0-9.,_-]+", "-", "_".join(sorted(overrides)))
    return out if len(out) <= 60 else out[:40] + "-" + hashlib.sha1(out.encode()).hexdigest()[:8]


def training_overrides(task_overrides: list[str], own_keys: Collection[str]) -> list[str]:
    """The command-line overrides that go on to the training runs: all but the script's own keys."""
    return [o for o in task_overrides if override_key(o).split(".")[0].split("/")[0] not in own_keys]


def run_tag(overrides: list[str]) -> str:
    """Folder name of a set of training overrides (those that change the trained model)."""
    return tag([o for o in overrides if override_key(o) not in EVAL_ONLY])


def results_name(dataset: str, task_overrides: list[str], same_results: Collection[str] = SAME_RESULTS) -> str:
    """The results folder of a run: ``dataset`` for a plain run, ``<dataset>_<overrides>`` (e.g.
    ``embedded_debug-smoke``; ``embedded_rgb`` for ``model.channels=3``) for any run whose overrides
    change the results, so that a smoke or otherwise overridden run never writes over the full results."""
    changing = [NAMED.get(o, o) for o in task_overrides
                if override_key(o) not in same_results and override_key(o).split(".")[0] != "hydra"]
    return dataset if not changing else f"{dataset}_{tag(changing)}"
