"""Time a default `hf teach` run end to end, several times, and print the figures as JSON.

Usage: python benchmarks/teach_time.py [PROMPT_FILE] [--runs 3] [--out-dir runs/bench] [hf teach flags]
Each run is a fresh process with default settings, so the figure is what a user waits for.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("prompts", nargs="?", default="prompts/bowl.txt")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out-dir", default="runs/bench")
    args, extra = parser.parse_known_args()  # unknown flags go to hf teach
    results = []
    for i in range(args.runs):
        out = Path(args.out_dir) / f"{Path(args.prompts).stem}_{i}.safetensors"
        cmd = [sys.executable, "-m", "hfcli.cli", "teach", args.prompts, "--out", str(out), "--json", *extra]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append({"wall_s": round(wall, 1), "psnr": report["psnr"], "steps": report["steps"]})
        print(json.dumps(results[-1]), file=sys.stderr)
    walls = [r["wall_s"] for r in results]
    print(
        json.dumps(
            {
                "command": f"hf teach {args.prompts} {' '.join(extra)}".strip(),
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
                "runs": results,
                "wall_s_median": statistics.median(walls),
                "wall_s_min": min(walls),
                "wall_s_max": max(walls),
                "psnr_mean": round(statistics.mean(r["psnr"] for r in results), 2),
                "psnr_min": min(r["psnr"] for r in results),
            }
        )
    )


if __name__ == "__main__":
    main()
