"""The issue's targets checked against measured figures, and RESULTS.md rendered from results.json."""

from __future__ import annotations

from typing import Any

LIGHTNING_OVERHEAD_MAX = 1.05
CODEC_SHARE_MAX = 0.20
ENCODE_DECODE_MAX_S = 0.5
REAL_IDEAL_MAX = 1.01
#: a 768x512 photo's decompress with the default model, from process start to file written
DECOMPRESS_SMALL_MAX_S = 2.5
#: context-model bytes / per-band bytes on the same coefficients at the low rate points (issue 15: >= 10 % fewer)
CONTEXT_LOW_RATE_MAX = 0.90


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: what, measured value, limit, met."""
    rows = []

    def add(what: str, value: float, limit: float) -> None:
        rows.append({"target": what, "value": value, "limit": limit, "met": bool(value <= limit)})

    for exp, stages in r["training"].items():
        for name, s in stages.items():
            if isinstance(s, dict) and "lightning_overhead" in s:
                add(f"Lightning overhead, {exp} {name}", s["lightning_overhead"], LIGHTNING_OVERHEAD_MAX)
        add(f"codec share of an end-to-end step, {exp}", stages["end_to_end"]["lightning_codec_share"],
            CODEC_SHARE_MAX)
    for exp, e in r["encode_decode"].items():
        add(f"encode + decode {e['image']} (s), {exp}", e["encode_plus_decode_s"], ENCODE_DECODE_MAX_S)
    add("DNNC real / ideal code length (worst row)", max(d["ratio"] for d in r["entropy"]["dnnc"]),
        REAL_IDEAL_MAX)
    mem = r.get("memory", {})
    sizes = [k for k, m in mem.items() if isinstance(m, dict) and "ratio_vs_avif" in m]
    if sizes:  # the small photo: decompress from process start; the large one: against AVIF, and memory
        small, large = sizes[0], sizes[-1]
        add(f"decompress from process start (s), {small}", mem[small]["decompress_s"], DECOMPRESS_SMALL_MAX_S)
        add(f"compress + decompress / AVIF encode + decode, {large}", mem[large]["ratio_vs_avif"],
            mem["max_ratio_vs_avif"])
        add(f"peak memory (MB), {large}", max(mem[large]["compress_mb"], mem[large]["decompress_mb"]), mem["limit_mb"])
    low = [d for d in r["entropy"].get("models", []) if d["low_rate"]]
    if low:
        add("context / per-band bytes at the dnnc_lowres low rate points (worst row)",
            max(d["context_bytes"] / d["band_bytes"] for d in low), CONTEXT_LOW_RATE_MAX)
    return rows


def _table(head: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _flat(d: Any, prefix: str = "") -> list[list[Any]]:
    if isinstance(d, dict):
        return [row for k, v in d.items() for row in _flat(v, f"{prefix}{k}.")]
    if isinstance(d, list) and d and all(isinstance(v, dict) for v in d):
        return [row for i, v in enumerate(d) for row in _flat(v, f"{prefix}{i}.")]
    return [[prefix.rstrip("."), d]]


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = [
        "# vcnlit benchmarks",
        "",
        f"- date: {r['date']}",
        f"- command: `{r['command']}` (`make bench`){' (quick mode: tiny inputs, not real figures)' if r['quick'] else ''}",
        f"- machine: {m['cpu']}, {m['cores']} cores usable, {m['torch_threads']} torch threads, {m['platform']}",
        f"- load average (1, 5, 15 min) at start {m['load_average_1_5_15min']}, at end {m['load_average_at_end']}"
        " (above the core count means other work shared the CPUs: absolute times read slow, ratios measured"
        " in the same run still hold)",
        f"- git commit: {r['git_commit']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        f"- wall time: {r['seconds']['total']:.0f} s",
        "",
        "Every time is a median of several runs; every ratio compares figures measured in this run.",
        "",
        "## Targets",
        "",
        _table(["target", "measured", "limit", "met"],
               [[t["target"], t["value"], t["limit"], "yes" if t["met"] else "**no**"] for t in r["targets"]]),
        "",
        "## Training throughput (images/s), Lightning vs a plain PyTorch loop",
        "",
        "Same stage `step()`, networks and data in both loops; the default config (patch and batch as listed).",
        "",
    ]
    rows = []
    for exp, stages in r["training"].items():
        for name, s in stages.items():
            if isinstance(s, dict):
                rows.append([exp, name, s["batch"], s.get("lightning_images_per_s"), s.get("plain_images_per_s"),
                             s.get("lightning_overhead", ""), f"{100 * s['lightning_codec_share']:.1f}%"])
    out.append(_table(["experiment", "stage", "batch", "Lightning img/s", "plain img/s", "overhead",
                       "codec share"], rows))
    for exp, stages in r["training"].items():
        if "end_to_end_shortcut_speedup" in stages:
            out += ["", f"{exp}: the end-to-end stage with the exact DNNC shortcut runs "
                    f"x{stages['end_to_end_shortcut_speedup']:.2f} the images/s of the same stage with the real "
                    "arithmetic coder on every training crop (`end_to_end_real_coder`)."]
    prec = r.get("precision") or {}
    if prec.get("fast_bf16"):
        speed = ", ".join(f"{k} x{v:.2f}" for k, v in prec.items() if k != "fast_bf16")
        out += ["", f"scic_lowres under Lightning, `trainer.precision=bf16-mixed` (the default on this CPU) against "
                f"`32-true`, images/s: {speed}."]
    elif prec:
        out += ["", "This CPU has no bfloat16 hardware: training runs in float32 (`trainer.precision=32-true`)."]
    out += ["", "## Encode and decode of one image (s)", ""]
    out.append(_table(["experiment", "image", "rate", "bpp", "encode", "decode", "encode + decode",
                       "encode, refined", "refined / plain"],
                      [[exp, e["image"], e.get("quality", e.get("step")), e["bpp"], e["encode_s"], e["decode_s"],
                        e["encode_plus_decode_s"], e.get("encode_refined_s", ""), e.get("encode_refined_ratio", "")]
                       for exp, e in r["encode_decode"].items()]))
    steps = next((e["refine_steps"] for e in r["encode_decode"].values() if "refine_steps" in e), None)
    if steps:
        out += ["", f"Refined: `vcnlit compress --refine {steps}` (encoder-side refinement of Y, "
                "`vcnlit/refinement.py`); the decode does not change."]
    out += ["", "## Full RD curve on the default test images", ""]
    out.append(_table(["experiment", "images", "rate points", "seconds"],
                      [[exp, ", ".join(e["images"]), len(e["rate_points"]), e["seconds"]]
                       for exp, e in r["rd_curve"].items()]))
    tp = r["entropy"]["throughput"]
    out += ["", "## Entropy coding (torchac)", "",
            _table(["path", "M symbols/s"], [[k, tp[k] / 1e6] for k in
                                             ("torchac_encode", "torchac_decode", "encode_symbols", "decode_symbols")]),
            "", _table(["image", "step", "bytes", "payload", "ideal", "real/ideal", "bpp"],
                       [[d["image"], d["step"], d["bytes"], d["payload_bytes"], d["ideal_bytes"], d["ratio"], d["bpp"]]
                        for d in r["entropy"]["dnnc"]]),
            "", "### Context model vs per-band histograms, same quantised coefficients", "",
            "Whole payloads (side info included); `lowres`: images halved by 2x2 means at the dnnc_lowres "
            "rate points (the two coarsest are its low rates), `ycbcr420`: colour as DNNC codes it by default.",
            "", _table(["signal", "image", "step", "per-band bytes", "context bytes", "saving"],
                       [[d["signal"], d["image"], d["step"], d["band_bytes"], d["context_bytes"],
                         f"{100 * d['saving']:.1f}%"] for d in r["entropy"].get("models", [])]),
            "", _table(["default DNNC codec", "encode (s)", "decode (s)", "bytes"],
                       [[k, t["encode_s"], t["decode_s"], t["bytes"]]
                        for k, t in r["entropy"].get("context_time", {}).items()]),
            "", "### DNNC codec settings vs the first format (codec alone, lowres signals, PSNR of the signal)", "",
            _table(["signal", "settings", "BD-rate", "BD-PSNR (dB)"],
                   [[d["signal"], d["settings"], f"{d['bd_rate']:+.1f}%", d["bd_psnr"]]
                    for d in r["entropy"].get("codec_rd", [])]),
            "", "## What a user waits for: `vcnlit compress` / `decompress` with the default model, process start to file "
            "written, and AVIF's encode + decode of the same photo", "",
            _table(["figure", "value"], _flat(r["memory"])), ""]
    return "\n".join(out)
