"""Time `hf generate` for one prompt.

    python benchmarks/generate_time.py MODEL [--prompt "a pink chair"] [--runs 5] [--resolution 128]
    python benchmarks/generate_time.py default --fresh [--runs 5] [--vertex-colors]

Loaded (the default): the model loads once, then N timed runs (after one warm-up) report the
median and the split between text encoding, hypernetwork (+ occupancy grid), meshing and
writing. Loading is reported apart: a batch call (`hf generate --prompts FILE`) pays it once.
--fresh: N fresh `hf generate PROMPT --out X.glb` processes, as a user runs them, timed from
outside (start-up, imports and loading included), with the peak resident memory.
Run it alone: torch processes on a 2-core machine slow each other down.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfcli.generate import generate_many
from hfcli.output_config import MeshConfig

STAGES = ("text", "hypernet", "mesh", "write")


def fresh(args) -> None:
    hf = Path(sys.executable).with_name("hf")
    walls, stages = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            out = Path(tmp) / f"{i}.glb"
            cmd = [str(hf), "generate", args.prompt, "--out", str(out), "--json"]
            if args.model != "default":
                cmd += ["--model", args.model]
            if args.vertex_colors:
                cmd.append("--vertex-colors")
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - start)
            stages.append(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child, KiB on Linux
    print(
        json.dumps(
            {
                "command": " ".join(
                    ["hf", "generate", repr(args.prompt), "--out", "X.glb"]
                    + ([] if args.model == "default" else ["--model", args.model])
                    + (["--vertex-colors"] if args.vertex_colors else [])
                ),
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
                "wall_s": [round(w, 3) for w in walls],
                "wall_s_median": round(statistics.median(walls), 3),
                "wall_s_min": round(min(walls), 3),
                "wall_s_max": round(max(walls), 3),
                "stages_median_s": {k: round(statistics.median(s[k] for s in stages), 3) for k in stages[0]},
                "peak_rss_mib": round(peak_kib / 1024, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--prompt", default="a pink chair")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=MeshConfig.resolution)
    parser.add_argument("--fresh", action="store_true", help="time whole `hf generate` processes")
    parser.add_argument("--vertex-colors", action="store_true", help="with --fresh: the untextured glb")
    args = parser.parse_args()
    if args.fresh:
        return fresh(args)
    with tempfile.TemporaryDirectory() as tmp:
        # One warm-up job, then the timed ones, all in one call so the model loads once.
        jobs = [(args.prompt, Path(tmp) / f"{i}.glb") for i in range(args.runs + 1)]
        results = generate_many(Path(args.model), jobs, MeshConfig(resolution=args.resolution))
    load_s = results[0]["seconds"]["load"]
    timed = results[1:]
    totals = [sum(r["seconds"][s] for s in STAGES) for r in timed]
    print(
        json.dumps(
            {
                "model": args.model,
                "prompt": args.prompt,
                "resolution": args.resolution,
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
                "load_s": load_s,
                "runs": [{s: r["seconds"][s] for s in STAGES} for r in timed],
                "total_s_median": round(statistics.median(totals), 3),
                "total_s_min": round(min(totals), 3),
                "total_s_max": round(max(totals), 3),
                "split_median_s": {s: round(statistics.median(r["seconds"][s] for r in timed), 3) for s in STAGES},
                "faces": timed[0]["faces"],
            }
        )
    )


if __name__ == "__main__":
    main()
