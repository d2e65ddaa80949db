"""Run every benchmark and write ``results.json`` and ``RESULTS.md``: ``python -m benchmarks.run [--quick] [--out DIR]``.

``make bench`` runs it with the defaults (about 10 minutes on 2 CPU cores); ``--quick``
shrinks every input to check the entry point in seconds.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import bench_codec, bench_entropy, bench_training
from benchmarks.common import machine
from benchmarks.report import render, targets
from vcnlit.eval.results import git_commit, versions, write_results
from vcnlit.portable import portable

HERE = Path(__file__).resolve().parent
#: top-level keys of results.json, each one figure group of the issue
FIGURES = ("training", "precision", "encode_decode", "rd_curve", "entropy", "memory")


def _memory(quick: bool) -> dict[str, Any]:
    if importlib.util.find_spec("benchmarks.bench_memory") is None:
        return {"error": "benchmarks/bench_memory.py is missing"}
    return importlib.import_module("benchmarks.bench_memory").run(quick=quick)


def run(quick: bool, out_dir: Path) -> dict[str, Any]:
    start = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": portable(" ".join(["python -m benchmarks.run", *sys.argv[1:]])),
        "quick": quick,
        "machine": machine(),
        "git_commit": git_commit(),
        "versions": versions(),
    }
    sections = {
        "training": lambda: bench_training.run(quick),
        "precision": lambda: bench_training.precision_speedup(quick),
        "codec": lambda: bench_codec.run(quick),
        "entropy": lambda: bench_entropy.run(quick),
        "memory": lambda: _memory(quick),
    }
    for name, fn in sections.items():
        t = time.perf_counter()
        print(f"== {name}", flush=True)
        res = fn()
        if name == "codec":
            results.update(res)
        else:
            results[name] = res
        results.setdefault("seconds", {})[name] = time.perf_counter() - t
    results["machine"]["load_average_at_end"] = machine()["load_average_1_5_15min"]
    results["seconds"]["total"] = time.perf_counter() - start
    results["targets"] = targets(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(out_dir / "results.json", results)
    (out_dir / "RESULTS.md").write_text(render(results))
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'RESULTS.md'} "
          f"({results['seconds']['total']:.0f} s)")
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny inputs: checks the entry point, no real figures")
    p.add_argument("--out", type=Path, default=HERE, help="folder for results.json and RESULTS.md")
    a = p.parse_args(argv)
    return run(a.quick, a.out)


if __name__ == "__main__":
    main()
