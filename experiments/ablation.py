"""Gradient proxies compared at equal budget: ``make ablation`` (``python experiments/ablation.py [overrides]``).

For every experiment, seed and gradient proxy that applies to the experiment's codec, trains (or
reuses) one run that differs from the others of its experiment and seed only in where the RSN's
gradient comes from in the end-to-end stage (``stages.end_to_end.module.rsn_gradient``; ``none``: no
RSN update). The stages before it are trained once per experiment and seed and shared, so every
proxy starts from the same networks; runs that differ only in overrides of the end-to-end stage
(``stages.end_to_end.*``: its rate term, learning rate, steps, ...) share them too, and runs that
differ only in the RSN's objective (``rate_weight``, ``rd_domain``, ``y_weight``, ``y_anchor``) share
their ``none`` run, which makes no RSN update. Writes to ``experiments/results/<dataset>/``: ``ablation.md``
(BD-rate vs Huffman-optimised JPEG and vs ``none``, the seed-to-seed spread, gradient fidelity,
times), one JSON per run in ``ablation/`` and ``ablation_rd.png``; a run with overrides that change
the results (``debug=smoke``, ``seeds=[...]``, ...) writes to ``<dataset>_<overrides>/`` instead
(``embedded_debug-smoke``), never over the full results.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from vcnlit.eval import runs as run_folders
from vcnlit.eval.runs import override_key, run_tag, training_overrides
from vcnlit.portable import portable_path
from vcnlit.rundir import check_reusable, is_finished
from vcnlit.sweeps import register_resolvers

log = logging.getLogger("vcnlit.ablation")
register_resolvers()  # ${cpu_precision:} of the training config

#: keys of conf/ablation.yaml that configure this script, not the training runs
OWN_KEYS = {"experiments", "proxies", "seeds", "runs_dir", "results_dir", "dataset", "anchor", "baseline_set",
            "run_overrides", "experiment_name", "hydra"}
#: training keys the ablation sets itself, and what to give instead
SET_HERE = {"seed": "seeds=[...]", "stages.end_to_end.module.rsn_gradient": "proxies=[...]",
            "stages.order": "nothing (the ablation trains every stage)"}
#: overrides that do not change the results (kept out of the results folder's name)
SAME_RESULTS = run_folders.SAME_RESULTS
#: the folder of each seed's shared stages (the runs' "after imitation" rows)
BASE_DIR = "base"
#: the stages the proxies share
SHARED_STAGES = ("autoencoder", "imitation")
#: overrides under this prefix change only the end-to-end stage: runs that differ in them share their base
E2E_ONLY = "stages.end_to_end."
#: end-to-end keys that change only the RSN's update, which the reference proxy (``none``) does not make:
#: runs that differ in them share their ``none`` run
RSN_ONLY = frozenset(f"{E2E_ONLY}module.{k}" for k in ("rate_weight", "rd_domain", "y_weight", "y_anchor"))


def results_name(dataset: str, task_overrides: list[str]) -> str:
    """``dataset``, or ``<dataset>_<overrides>`` when the overrides change the results (never the full results)."""
    return run_folders.results_name(dataset, task_overrides, SAME_RESULTS)


def launch(experiment: str, exp_dir: Path, sweep: list[str], overrides: Sequence[str]) -> None:
    """One multirun of ``vcnlit.run`` for ``experiment`` under ``exp_dir``; exits on failure."""
    cmd = [sys.executable, "-m", "vcnlit.run", "-m", f"+experiment={experiment}", f"hydra.sweep.dir={exp_dir}",
           "~hydra.callbacks.merge_rd", *sweep, *overrides]
    log.info("%s: training: %s", experiment, " ".join(cmd[1:]))
    if subprocess.run(cmd).returncode != 0:
        sys.exit(f"error: training {experiment} failed; see the run.log files under {exp_dir} "
                 "(run the same command to resume)")


def share_stages(base: Path, run_dir: Path, experiment_name: str, seed: int) -> None:
    """Start ``run_dir`` as a run whose shared stages are those of ``base`` (its end-to-end stage to come)."""
    from vcnlit.rundir import read_marker, write_marker

    if read_marker(run_dir) is not None:
        return  # started before: it resumes
    for stage in SHARED_STAGES:
        (run_dir / "stages" / stage).mkdir(parents=True, exist_ok=True)
        shutil.copy2(base / "stages" / stage / "done.pt", run_dir / "stages" / stage / "done.pt")
    write_marker(run_dir, {"experiment": experiment_name, "seed": seed, "status": "running"})


def base_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that change the shared stages: all but the end-to-end stage's own."""
    return [o for o in overrides if not override_key(o).startswith(E2E_ONLY)]


def reference_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that change the reference (``none``) run: all but those of the RSN's update alone."""
    return [o for o in overrides if override_key(o) not in RSN_ONLY]


def folders(runs_dir: Path, overrides: Sequence[str]) -> dict[str, Path]:
    """Where the runs of a set of training overrides live: ``base`` (the shared stages), ``reference``
    (the ``none`` runs) and ``runs`` (every other proxy), each ``<runs_dir>/ablation-<tag>``."""
    def at(o: Sequence[str]) -> Path:
        return runs_dir / f"ablation-{run_tag(list(o))}"
    return {"base": at(base_overrides(overrides)), "reference": at(reference_overrides(overrides)),
            "runs": at(overrides)}


def proxy_dir(where: dict[str, Path], experiment: str, seed: int, proxy: str) -> Path:
    """The run folder of one proxy (``BASE_DIR``: the shared stages) of an experiment and seed."""
    from vcnlit.eval.ablation import BASE, REFERENCE

    kind = "base" if proxy in (BASE, BASE_DIR) else "reference" if proxy == REFERENCE else "runs"
    return where[kind] / experiment / f"s{seed}" / (BASE_DIR if kind == "base" else proxy)


def train_experiment(experiment: str, experiment_name: str, proxies: list[str], seeds: list[int],
                     where: dict[str, Path], overrides: Sequence[str]) -> None:
    """The shared stages of every seed, then every (seed, proxy) run not finished yet, each in its
    folder (:func:`folders`); a finished run is reused only if today's command would train it alike."""
    from vcnlit.eval.ablation import REFERENCE

    todo = [s for s in seeds if not is_finished(proxy_dir(where, experiment, s, BASE_DIR))]
    for s in set(seeds) - set(todo):
        check_reusable(proxy_dir(where, experiment, s, BASE_DIR), experiment,
                       [*base_overrides(overrides), f"seed={s}", f"stages.order=[{','.join(SHARED_STAGES)}]"])
    if todo:
        launch(experiment, where["base"] / experiment,
               [f"seed={','.join(map(str, todo))}", f"stages.order=[{','.join(SHARED_STAGES)}]",
                f"hydra.sweep.subdir=s${{seed}}/{BASE_DIR}"], base_overrides(overrides))
    groups: dict[Path, tuple[list[str], list[str]]] = {}  # folder -> (its overrides, its proxies)
    for p in proxies:
        kind, o = ("reference", reference_overrides(overrides)) if p == REFERENCE else ("runs", list(overrides))
        groups.setdefault(where[kind], (o, []))[1].append(p)
    for folder, (o, mine) in groups.items():
        pending: dict[tuple[str, ...], list[int]] = {}
        for s in seeds:
            left = tuple(p for p in mine if not is_finished(proxy_dir(where, experiment, s, p)))
            for p in set(mine) - set(left):
                check_reusable(proxy_dir(where, experiment, s, p), experiment,
                               [*o, f"seed={s}", f"stages.end_to_end.module.rsn_gradient={p}"])
            for p in left:
                share_stages(proxy_dir(where, experiment, s, BASE_DIR), proxy_dir(where, experiment, s, p),
                             experiment_name, s)
            if left:
                pending.setdefault(left, []).append(s)
            else:
                log.info("%s seed %d: reusing the runs of %s", experiment, s, ", ".join(mine))
        for left, group in pending.items():
            launch(experiment, folder / experiment,
                   [f"seed={','.join(map(str, group))}", f"stages.end_to_end.module.rsn_gradient={','.join(left)}",
                    "hydra.sweep.subdir=s${seed}/${stages.end_to_end.module.rsn_gradient}"], o)


def diagnose(run_dir: Path, proxy: str, val: list) -> dict[str, float]:
    """VCN imitation PSNR and the proxy's gradient fidelity of a run's final model on the val images."""
    from vcnlit.checkpoint import load_model
    from vcnlit.stages import EndToEndStage

    model = load_model(run_dir / "model.ckpt")
    config = model.meta.get("config") or {}
    ev = config.get("eval", {})
    probes = config.get("stages", {}).get("end_to_end", {}).get("module", {}).get("fidelity_probes", 16)
    rates = [float(r) for r in ev.get("rate_points") or [model.codec.rate]]
    stage = EndToEndStage(model.system, model.codec, rates, val_rate=ev.get("val_rate"), rsn_gradient=proxy,
                          fidelity_probes=probes)
    found = [stage.diagnostics(x[None]) for _, x in val]
    return {k: sum(d[k] for d in found) / len(found) for k in ("vcn_psnr", "grad_fidelity")}


def collect(plan: dict[str, list[str]], seeds: list[int], where: dict[str, Path], val: list) -> list[dict[str, Any]]:
    """One record per run (its rd.json, with times and diagnostics in ``meta["ablation"]``)."""
    from vcnlit.eval.ablation import BASE
    from vcnlit.eval.results import read_json
    from vcnlit.rundir import read_marker

    records = []
    for exp, proxies in plan.items():
        for s in seeds:
            base_marker = read_marker(proxy_dir(where, exp, s, BASE_DIR)) or {}
            base_seconds = sum((base_marker.get("stage_seconds") or {}).values()) or None
            for proxy in [BASE, *proxies]:
                run_dir = proxy_dir(where, exp, s, proxy)
                record = read_json(run_dir / "rd.json")
                marker = read_marker(run_dir) or {}
                info = {"experiment": exp, "proxy": proxy, "seed": s, "run_dir": str(run_dir),
                        "seconds": None if proxy == BASE else (marker.get("stage_seconds") or {}).get("end_to_end"),
                        "base_seconds": base_seconds,
                        **diagnose(run_dir, "none" if proxy == BASE else proxy, val)}
                record["name"] = f"{exp} {proxy} s{s}"
                record["meta"]["ablation"] = info
                records.append(record)
    return records


@hydra.main(version_base="1.3", config_path="../conf", config_name="ablation")
def main(cfg: DictConfig) -> None:
    from hydra import compose
    from hydra.utils import instantiate

    from vcnlit.errors import ConfigError, exit_on_user_error
    from vcnlit.eval import ablation
    from vcnlit.eval.plots import plot_rd_panels
    from vcnlit.eval.results import provenance, write_results
    from vcnlit.evaluate import test_images
    from vcnlit.stages.proxies import PROXIES, applicable

    with exit_on_user_error():
        task = list(HydraConfig.get().overrides.task)
        overrides = training_overrides(task, OWN_KEYS)
        for o in overrides:
            if override_key(o) in SET_HERE:
                raise ConfigError(f"{o}: the ablation sets {override_key(o)} itself; give {SET_HERE[override_key(o)]}")
        where = folders(Path(cfg.runs_dir).resolve(), overrides)
        dataset = "embedded" if cfg.data.test_dir is None else Path(cfg.data.test_dir).name
        out = Path(cfg.results_dir).resolve() / (cfg.dataset or results_name(dataset, task))
        seeds = [int(s) for s in cfg.seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds must be distinct integers, at least one; got {list(cfg.seeds)}")
        unknown = [p for p in cfg.proxies if p not in PROXIES]
        if unknown:
            raise ConfigError(f"proxies: {unknown} unknown; choose among {', '.join(PROXIES)}")
        plan, names = {}, {}
        for exp in cfg.experiments:
            exp_cfg = compose("train", overrides=[f"+experiment={exp}", *overrides])
            fits = applicable(instantiate(exp_cfg.codec))
            plan[exp] = [p for p in cfg.proxies if p in fits]
            names[exp] = str(exp_cfg.experiment_name)
            if ablation.REFERENCE not in plan[exp]:
                raise ConfigError(f"proxies must include {ablation.REFERENCE!r}: every proxy is compared with it")
        for exp, proxies in plan.items():
            log.info("%s: proxies %s, seeds %s", exp, ", ".join(proxies), seeds)
            train_experiment(exp, names[exp], proxies, seeds, where, [*cfg.run_overrides, *overrides])

        prov = provenance(OmegaConf.to_container(cfg, resolve=True))
        images = test_images(cfg, int(cfg.model.channels))
        anchor = instantiate(cfg.baseline_set[cfg.anchor]).evaluate(images, prov)
        write_results(out / "ablation" / f"{cfg.anchor}.json", anchor)
        val = instantiate(cfg.data).images("val")
        records = collect(plan, seeds, where, val)
        ablation.compare(records, anchor)
        for r in records:
            info = r["meta"]["ablation"]
            write_results(out / "ablation" / f"{info['experiment']}_{info['proxy'].replace(' ', '_')}_s{info['seed']}.json", r)
        summary = ablation.summarise(records)
        panels = {}
        for exp in plan:
            mine = [r for r in records if r["meta"]["ablation"]["experiment"] == exp]
            by_proxy: dict[str, list] = {}
            for r in mine:
                by_proxy.setdefault(r["meta"]["ablation"]["proxy"], []).append(r)
            curves = [ablation.mean_curve(rs, p) for p, rs in by_proxy.items()]
            panels[exp] = ([*curves, anchor], 1.25 * max(max(r["results"]["bpp"]) for r in mine))
        plot_rd_panels(panels, out / "ablation_rd.png", note=cfg.eval.note)
        (out / "ablation.md").write_text(_document(cfg, out, images, where, prov, summary, records, seeds))
        log.info("wrote %s", out / "ablation.md")


def _document(cfg: DictConfig, out: Path, images: list, where: dict[str, Path], prov: dict, summary: dict,
              records: list[dict], seeds: list[int]) -> str:
    from vcnlit.eval.ablation import BASE, REFERENCE, markdown_tables
    from vcnlit.stages.proxies import PROXIES

    names = ", ".join(n for n, _ in images)
    proxies = "; ".join(f"`{n}`: {p.summary}" for n, p in PROXIES.items())
    total = sum(r["meta"]["ablation"]["seconds"] or 0 for r in records) + sum(
        r["meta"]["ablation"]["base_seconds"] or 0 for r in records if r["meta"]["ablation"]["proxy"] == BASE)
    head = [
        f"# Gradient proxies at equal budget on `{out.name}`",
        "",
        *([f"**{cfg.eval.note}**", ""] if cfg.eval.note else []),
        f"- command: `{prov['command']}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; git commit {prov['git_commit']}; "
        f"torch {prov['versions'].get('torch')}, pillow {prov['versions'].get('pillow')}",
        f"- test images ({len(images)}, {int(cfg.model.channels)} channel(s)): {names}",
        f"- runs: `{portable_path(where['runs'])}`, seeds {', '.join(map(str, seeds))}; per experiment and seed the stages before the "
        "end-to-end one are trained once and shared by every proxy (`after imitation` rows: that shared model"
        + ("" if where["base"] == where["runs"] else
           f", in `{portable_path(where['base'])}`, shared with every run that differs in `{E2E_ONLY}*` alone") + ")"
        + ("" if where["reference"] == where["runs"] else
           f"; the `none` runs, which make no RSN update, in `{portable_path(where['reference'])}`, shared with every run that "
           "differs in the RSN's objective alone"),
        f"- proxies (`stages.end_to_end.module.rsn_gradient`): {proxies}",
        f"- BD-rate (PSNR) vs `{cfg.anchor}` (Huffman-optimised JPEG) and vs `{REFERENCE}` of the same seed: mean "
        "over seeds [min, max]; negative = fewer bits at equal PSNR. spread: max - min over seeds of the "
        f"BD-rate vs `{cfg.anchor}`. beats {REFERENCE}: BD-rate vs {REFERENCE} below zero by more than the larger "
        f"of the proxy's and {REFERENCE}'s spread",
        "- grad fidelity: correlation of the loss changes the proxy's gradient predicts and those measured "
        "through the real codec, over `stages.end_to_end.module.fidelity_probes` random probes of Y (docs/evaluation.md); VCN PSNR: VCN(Y) against "
        "IDN(codec(Y)); both on the val images at the val rate, final models",
        "- end-to-end: wall time of the end-to-end stage; total: + the shared stages (one session each); "
        f"all runs: {total / 60:.1f} min",
        "",
        "",
    ]
    per_run = ["## Every run", "", "| experiment | proxy | seed | BD-rate vs anchor | BD-rate vs none | end-to-end |",
               "|---|---|---|---|---|---|"]
    for r in records:
        i = r["meta"]["ablation"]
        fmt = (lambda v: "n/a" if v is None or not math.isfinite(v) else f"{v:+.2f} %")  # noqa: E731
        per_run.append(f"| {i['experiment']} | {i['proxy']} | {i['seed']} | {fmt(i['bd_rate_vs_anchor'])} | "
                       f"{fmt(i['bd_rate_vs_reference'])} | "
                       f"{'' if i['seconds'] is None else format(i['seconds'], '.0f') + ' s'} |")
    return "\n".join(head) + markdown_tables(summary, str(cfg.anchor)) + "\n![PSNR vs bpp](ablation_rd.png)\n\n" + \
        "\n".join(per_run) + "\n"


if __name__ == "__main__":
    main()
