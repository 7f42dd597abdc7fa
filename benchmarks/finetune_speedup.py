"""Steps and seconds to a fixed PSNR: finetuning the model's prediction against a fresh NeRF.

For every prompt and seed, both arms run `hfcli.train.finetune.finetune` (the code behind
`hf finetune`) with studio guidance and identical settings, seed, ground-truth pool and step
cap; they differ only in the start: the model's baked NeRF (its occupancy grid, grown by
`grid_margin` cells) or a fresh NeRF (all-occupied grid). An arm that does not reach the target
within the cap is counted at the cap and marked capped. One JSON object per run on stdout, then
the summary; `--out` also writes everything to a file.

    python benchmarks/finetune_speedup.py --prompts prompts/ood.txt --seeds 0 1 --target 25 --cap 120

The target may instead be set per prompt from a pilot of the scratch arm (another seed, no
target, N steps): `--targets-from pilot.json --target-drop 1` asks each prompt for its pilot's
PSNR at the end minus 1 dB, a target a fresh NeRF needs most of the pilot's steps to reach.

    python benchmarks/finetune_speedup.py --prompts P --seeds 7 --arms scratch --target 99 --cap 600 --out pilot.json
    python benchmarks/finetune_speedup.py --prompts P --seeds 0 1 --targets-from pilot.json --target-drop 1 --cap 900
    python benchmarks/finetune_speedup.py --retarget 0.5 results.json   # the same runs, 0.5 dB lower
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfcli.cli.common import read_prompt_file  # noqa: E402
from hfcli.config import FinetuneConfig, SDConfig  # noqa: E402
from hfcli.guidance.factory import build_guidance  # noqa: E402
from hfcli.train.finetune import finetune  # noqa: E402


def pilot_targets(paths: list[Path], drop: float) -> dict[str, float]:
    """Per prompt: the mean over a pilot's scratch runs of the PSNR they ended at, minus `drop`."""
    ends: dict[str, list[float]] = {}
    for path in paths:
        for run in json.loads(path.read_text())["runs"]:
            if run["start"] == "scratch":
                ends.setdefault(run["prompt"], []).append(run["psnr_end"])
    return {p: round(statistics.mean(v) - drop, 2) for p, v in ends.items()}


def run_arm(prompt: str, seed: int, scratch: bool, guidance, args) -> dict:
    cfg = FinetuneConfig(
        guidance="studio",
        target_psnr=args.targets.get(prompt, args.target),
        rays_per_step=args.rays_per_step,
        check_every=args.check_every,
        check_resolution=args.check_resolution,
    )
    cfg.loop.steps, cfg.loop.seed = args.cap, seed
    if args.grid_margin is not None:
        cfg.grid_margin = args.grid_margin
    res = finetune(prompt, args.model, None, cfg, from_scratch=scratch, guidance=guidance)
    steps = res["steps_to_target"] if res["reached"] else args.cap
    seconds = res["seconds_to_target"] if res["reached"] else res["train_seconds"]
    return {
        "prompt": prompt,
        "seed": seed,
        "target": cfg.target_psnr,
        "start": res["start"],
        "reached": res["reached"],
        "steps": steps,
        "seconds": seconds,
        "psnr_start": res["psnr_start"],
        "psnr_end": res["psnr"],
        "history": res["history"],
    }


def summarise(runs: list[dict], args) -> dict:
    per_prompt = {}
    for prompt in dict.fromkeys(r["prompt"] for r in runs):
        arms = {s: [r for r in runs if r["prompt"] == prompt and r["start"] == s] for s in ("model", "scratch")}
        model_steps, scratch_steps = (sum(r["steps"] for r in arms[s]) for s in ("model", "scratch"))
        per_prompt[prompt] = {
            "target": args.targets.get(prompt, args.target),
            "seeds": [r["seed"] for r in arms["model"]],
            "model_steps": [r["steps"] for r in arms["model"]],
            "scratch_steps": [r["steps"] for r in arms["scratch"]],
            "model_seconds": [round(r["seconds"], 1) for r in arms["model"]],
            "scratch_seconds": [round(r["seconds"], 1) for r in arms["scratch"]],
            "model_capped": sum(not r["reached"] for r in arms["model"]),
            "scratch_capped": sum(not r["reached"] for r in arms["scratch"]),
            "model_psnr_start": [r["psnr_start"] for r in arms["model"]],
            # A prediction already at the target needs no step; count it as one so ratios stay finite.
            "ratio_steps": round(scratch_steps / max(model_steps, 1), 3),
        }
    total = {s: sum(r["steps"] for r in runs if r["start"] == s) for s in ("model", "scratch")}
    seconds = {s: sum(r["seconds"] for r in runs if r["start"] == s) for s in ("model", "scratch")}
    return {
        "target_psnr": args.target if not args.targets else None,
        "targets_from": [str(p) for p in args.targets_from] if args.targets_from else None,
        "target_drop": args.target_drop if args.targets_from else None,
        "cap": args.cap,
        "seeds": args.seeds,
        "rays_per_step": args.rays_per_step,
        "check_every": args.check_every,
        "check_resolution": args.check_resolution,
        "pool_rays": args.pool_rays,
        "grid_margin": args.grid_margin,
        "arms_run": args.arms,
        "reused_from": str(args.reuse) if args.reuse else None,
        "per_prompt": per_prompt,
        "steps_total": total,
        "seconds_total": {k: round(v, 1) for k, v in seconds.items()},
        "aggregate_ratio_steps": round(total["scratch"] / max(total["model"], 1), 3),
        "aggregate_ratio_seconds": round(seconds["scratch"] / seconds["model"], 3) if seconds["model"] else None,
        "median_prompt_ratio_steps": round(statistics.median(p["ratio_steps"] for p in per_prompt.values()), 3),
        "capped_runs": {s: sum(1 for r in runs if r["start"] == s and not r["reached"]) for s in ("model", "scratch")},
    }


def markdown(summary: dict) -> str:
    """The per-prompt table of BENCHMARKS.md from a summary."""
    rows = [
        "| prompt | target | student's PSNR at step 0 | steps from the student | steps from scratch | "
        "seconds from the student | seconds from scratch | ratio (steps) |",
        "|---" * 8 + "|",
    ]
    for prompt, p in summary["per_prompt"].items():
        cap = lambda n: f" ({n} capped)" if n else ""  # noqa: E731
        rows.append(
            f"| {prompt} | {p.get('target', summary.get('target_psnr'))} "
            f"| {' / '.join(f'{v:.1f}' for v in p['model_psnr_start'])} "
            f"| {' / '.join(map(str, p['model_steps']))}{cap(p['model_capped'])} "
            f"| {' / '.join(map(str, p['scratch_steps']))}{cap(p['scratch_capped'])} "
            f"| {' / '.join(map(str, p['model_seconds']))} | {' / '.join(map(str, p['scratch_seconds']))} "
            f"| {p['ratio_steps']:.2f} |"
        )
    return "\n".join(rows)


def retarget(runs: list[dict], drop: float) -> list[dict]:
    """The same runs read at a lower target (each run's own target minus `drop`): the first
    check in its history at or above it. A run stops at its target, so any lower one was
    checked on the way; seconds are not in the history and are left out."""
    out = []
    for r in runs:
        target = r["target"] - drop
        hit = next((step for step, psnr in r["history"] if psnr >= target), None)
        out.append({**r, "target": target, "reached": hit is not None, "steps": r["steps"] if hit is None else hit})
    return out


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--retarget":  # --retarget DROP results.json
        runs = retarget(json.loads(Path(sys.argv[3]).read_text())["runs"], float(sys.argv[2]))
        steps = {s: sum(r["steps"] for r in runs if r["start"] == s) for s in ("model", "scratch")}
        per_prompt = {}
        for r in runs:
            per_prompt.setdefault(r["prompt"], {"model": 0, "scratch": 0})[r["start"]] += r["steps"]
        ratios = [p["scratch"] / max(p["model"], 1) for p in per_prompt.values()]
        print(
            json.dumps(
                {
                    "drop_db": float(sys.argv[2]),
                    "steps_total": steps,
                    "aggregate_ratio_steps": round(steps["scratch"] / max(steps["model"], 1), 3),
                    "median_prompt_ratio_steps": round(statistics.median(ratios), 3),
                    "unreached": {
                        s: sum(1 for r in runs if r["start"] == s and not r["reached"]) for s in ("model", "scratch")
                    },
                    "per_prompt": per_prompt,
                }
            )
        )
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--table":  # python finetune_speedup.py --table results.json
        print(markdown(json.loads(Path(sys.argv[2]).read_text())["summary"]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--prompts", type=Path, default=Path("prompts/ood.txt"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--target", type=float, default=25.0, help="PSNR (dB) both arms must reach")
    ap.add_argument("--targets-from", type=Path, nargs="+", help="pilot --out files: per-prompt targets")
    ap.add_argument("--target-drop", type=float, default=1.0, help="dB under the pilot's final PSNR")
    ap.add_argument("--cap", type=int, default=120, help="steps after which an arm counts as capped")
    ap.add_argument("--rays-per-step", type=int, default=4096)
    ap.add_argument("--pool-rays", type=int, default=1 << 15, help="studio ground-truth rays per shape")
    ap.add_argument("--check-every", type=int, default=5)
    ap.add_argument("--check-resolution", type=int, default=32)
    ap.add_argument("--grid-margin", type=int, help="cells grown around the prediction's occupancy; -1: all occupied")
    ap.add_argument("--arms", choices=("both", "model", "scratch"), default="both")
    ap.add_argument("--reuse", type=Path, help="take the other arm's runs from this earlier --out file")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.targets = pilot_targets(args.targets_from, args.target_drop) if args.targets_from else {}
    prompts = read_prompt_file(args.prompts)
    missing = [p for p in prompts if args.targets_from and p not in args.targets]
    if missing:
        ap.error(f"no pilot run for {missing}")
    runs, start = [], time.perf_counter()
    arms = {"both": (False, True), "model": (False,), "scratch": (True,)}[args.arms]
    earlier = json.loads(args.reuse.read_text())["runs"] if args.reuse else []
    for prompt in prompts:
        for seed in args.seeds:
            # One ground-truth pool per (prompt, seed), shared by both arms.
            guidance = build_guidance("studio", [prompt], args.rays_per_step, args.pool_rays, seed, SDConfig())
            for scratch in (False, True):
                if scratch not in arms:
                    start_name = "scratch" if scratch else "model"
                    runs += [r for r in earlier if (r["prompt"], r["seed"], r["start"]) == (prompt, seed, start_name)]
                    continue
                runs.append(run_arm(prompt, seed, scratch, guidance, args))
                print(json.dumps({k: v for k, v in runs[-1].items() if k != "history"}), flush=True)
    summary = summarise(runs, args)
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
