"""Print the figures of benchmarks/full_run.sh as Markdown tables (what BENCHMARKS.md quotes).

Usage: python benchmarks/summarize_full_run.py [RUN_DIR (runs/full)] [--worst 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() and path.stat().st_size else None


def _f(x, nd=2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def teachers(run: Path) -> tuple[str, dict[str, float]]:
    rows, per_prompt = ["| teacher | prompts | mean PSNR | seconds |", "|---|---|---|---|"], {}
    for path in sorted((run / "teachers").glob("*.json")):
        t = _load(path)
        if t is None:
            continue
        per_prompt.update(t["per_prompt"])
        rows.append(f"| {path.stem} | {len(t['prompts'])} | {_f(t['psnr'])} | {_f(t['seconds'], 0)} |")
    mean = sum(per_prompt.values()) / max(1, len(per_prompt))
    rows.append(f"| **all** | {len(per_prompt)} | **{_f(mean)}** | |")
    return "\n".join(rows), per_prompt


def evals(run: Path, teacher_psnr: dict[str, float], worst: int) -> str:
    out = [
        "| student | prompts | PSNR | SSIM | IoU | Chamfer | retrieval PSNR | teachers' PSNR | distill seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    worst_tables = []
    for variant in ("dynamic", "static"):
        distilled = _load(run / f"distill_{variant}.json") or {}
        for split in ("train", "heldout"):
            e = _load(run / f"eval_{split}_{variant}.json")
            if e is None:
                continue
            m, b = e["mean"], e["baseline_mean"]
            ref = [teacher_psnr[r["prompt"]] for r in e["prompts"] if r["prompt"] in teacher_psnr]
            ref_s = _f(sum(ref) / len(ref)) if ref else "-"
            out.append(
                f"| {variant}, {split} | {len(e['prompts'])} | **{_f(m['psnr'])}** | {_f(m['ssim'], 3)} | "
                f"{_f(m['iou'], 3)} | {_f(m['chamfer'], 4)} | {_f(b.get('psnr'))} | {ref_s} | "
                f"{_f(distilled.get('train_seconds'), 0)} |"
            )
            if split == "heldout":
                rows = sorted(e["prompts"], key=lambda r: r["psnr"])[:worst]
                table = [
                    f"Worst {worst} held-out prompts, {variant} student:",
                    "",
                    "| prompt | PSNR | SSIM | IoU | Chamfer | retrieved | retrieval PSNR |",
                    "|---|---|---|---|---|---|---|",
                ]
                for r in rows:
                    base = (r.get("baseline") or {}).get("psnr")
                    table.append(
                        f"| {r['prompt']} | {_f(r['psnr'])} | {_f(r['ssim'], 3)} | {_f(r['iou'], 3)} | "
                        f"{_f(r['chamfer'], 4)} | {r.get('retrieved') or '-'} | {_f(base)} |"
                    )
                worst_tables.append("\n".join(table))
    return "\n".join(out) + "\n\n" + "\n\n".join(worst_tables)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?", default="runs/full")
    parser.add_argument("--worst", type=int, default=5)
    args = parser.parse_args()
    run = Path(args.run)
    table, per_prompt = teachers(run)
    print(table, end="\n\n")
    print(evals(run, per_prompt, args.worst))


if __name__ == "__main__":
    main()
