"""Print the figures of benchmarks/world_run.sh as Markdown tables (what BENCHMARKS.md quotes).

python benchmarks/summarize_world_run.py [RUN_DIR (runs/wfull)] [--worst 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() and path.stat().st_size else None


def _f(x, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def teachers(run: Path) -> tuple[list[str], float]:
    rows = ["| teacher | prompts | PSNR | training seconds |", "|---|---|---|---|"]
    scores: list[float] = []
    for path in sorted((run / "teachers").glob("*.json")):
        t = _load(path)
        if t is None:
            continue
        scores += list(t["per_prompt"].values())
        rows.append(f"| {path.stem} | {len(t['prompts'])} | {_f(t['psnr'])} | {_f(t['train_seconds'], 0)} |")
    mean = sum(scores) / max(1, len(scores))
    rows.append(f"| **all** | {len(scores)} | **{_f(mean)}** | |")
    return rows, mean


def students(run: Path, teacher_mean: float, variant: str) -> list[str]:
    rows = [
        "| steps | training prompts (teachers' "
        + _f(teacher_mean)
        + ") | zero-shot | retrieval | zero-shot − retrieval"
        " | mesh PSNR | a yarn bowl (retrieval) | held-out colours (retrieval) | normals | faces > 30° | distance |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    milestones = sorted((p for p in run.glob("s*") if p.name[1:].isdigit()), key=lambda p: int(p.name[1:]))
    for m in milestones:
        distill = _load(m / f"distill_{variant}.json")
        zero = _load(m / f"eval_zeroshot_{variant}.json")
        colours = _load(m / f"eval_colours_heldout_{variant}.json")
        if distill is None:
            continue
        cells = [m.name[1:], _f(distill["psnr"])]
        if zero is not None:
            z, b = zero["mean"], zero["baseline_mean"]
            yarn = next((p for p in zero["prompts"] if p["prompt"] == "a yarn bowl"), None)
            yarn_cell = f"{_f(yarn['psnr'])} ({_f(yarn['baseline']['psnr'])})" if yarn else "-"
            cells += [_f(z["psnr"]), _f(b["psnr"]), f"{z['psnr'] - b['psnr']:+.2f}", _f(z.get("mesh_psnr")), yarn_cell]
        else:
            cells += ["-"] * 5
        cells.append(f"{_f(colours['mean']['psnr'])} ({_f(colours['baseline_mean']['psnr'])})" if colours else "-")
        if zero is not None:
            z = zero["mean"]
            cells += [
                _f(z.get("normal_consistency"), 3),
                "-" if z["faces_off_30"] is None else _f(100 * z["faces_off_30"], 1) + "%",
                _f(z["surface_distance"], 4),
            ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def worst(run: Path, variant: str, n: int) -> list[str]:
    milestones = sorted((p for p in run.glob("s*") if p.name[1:].isdigit()), key=lambda p: int(p.name[1:]))
    for m in reversed(milestones):
        zero = _load(m / f"eval_zeroshot_{variant}.json")
        if zero is None:
            continue
        rows = [
            f"Worst {n} zero-shot prompts at {m.name[1:]} steps:",
            "",
            "| prompt | PSNR | retrieved | retrieval PSNR |",
            "|---|---|---|---|",
        ]
        for p in sorted(zero["prompts"], key=lambda p: p["psnr"])[:n]:
            rows.append(f"| {p['prompt']} | {_f(p['psnr'])} | {p['retrieved']} | {_f(p['baseline']['psnr'])} |")
        return rows
    return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", default="runs/wfull", type=Path)
    ap.add_argument("--worst", type=int, default=5)
    args = ap.parse_args()
    rows, mean = teachers(args.run)
    print("\n".join(rows) + "\n")
    for variant in ("dynamic", "static"):
        table = students(args.run, mean, variant)
        if len(table) > 2:
            print(f"Student, {variant} heads:\n\n" + "\n".join(table) + "\n")
            print("\n".join(worst(args.run, variant, args.worst)) + "\n")


if __name__ == "__main__":
    main()
