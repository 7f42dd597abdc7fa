"""Time `hf generate` for one prompt with the model already loaded: median of N runs, and the
split between text encoding, hypernetwork (+ occupancy grid), meshing and writing.

Usage: python benchmarks/generate_time.py MODEL [--prompt "a pink chair"] [--runs 5] [--resolution 128]
Loading (imports, checkpoint, text encoder) is timed once and reported apart: it is what a
batch call (`hf generate --prompts FILE`) pays once. Run it alone: torch processes on a
2-core machine slow each other down.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from pathlib import Path

from hfcli.defaults import MESH_RESOLUTION
from hfcli.generate import generate_many

STAGES = ("text", "hypernet", "mesh", "write")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--prompt", default="a pink chair")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=MESH_RESOLUTION)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # One warm-up job, then the timed ones, all in one call so the model loads once.
        jobs = [(args.prompt, Path(tmp) / f"{i}.glb") for i in range(args.runs + 1)]
        results = generate_many(Path(args.model), jobs, args.resolution)
    load_s = results[0]["seconds"]["load"]
    timed = results[1:]
    totals = [sum(r["seconds"][s] for s in STAGES) for r in timed]
    print(json.dumps({
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
    }))


if __name__ == "__main__":
    main()
