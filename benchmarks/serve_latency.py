"""Latency, throughput and memory of `hf serve` through its HTTP API.

    python benchmarks/serve_latency.py [--model default] [--requests 20] [--clients 4] [--memory-requests 500]

Starts `hf serve --port 0` in a subprocess (the model loads once), then, as a client would:
- latency: `--requests` POST /generate one after another (default resolution, glb bytes back),
  after one warm-up; median, quartiles, min and max, and the server's own stage times;
- throughput: `--clients` threads sending `--requests` requests in all at once; requests/s;
- morph: the slider's steps, POST /interpolate at t = 0, 0.05, …, 1 (64³, as the page asks);
- memory: the server's resident size (VmRSS) after 10 requests and after `--memory-requests`,
  with the page's pattern (JSON reply, then GET the mesh URL) filling the requests in between.
Prints one JSON object. Run it alone: torch processes on a 2-core machine slow each other down.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MORPH_STEPS = [round(i * 0.05, 2) for i in range(21)]


def prompts() -> list[str]:
    """Held-out and training prompts of the bundled model's split, so no two requests in a row match."""
    lines = []
    for name in ("heldout.txt", "train.txt"):
        lines += [ln.strip() for ln in (ROOT / "prompts" / name).read_text().splitlines() if ln.strip()]
    return [ln for ln in lines if not ln.startswith("#")]


def start_server(model: str, log: Path) -> tuple[subprocess.Popen, str]:
    hf = Path(sys.executable).with_name("hf")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(hf), "serve", "--port", "0", "--model", model], stdout=out, stderr=out)
    deadline = time.monotonic() + 180
    while not (found := re.search(r"http://127\.0\.0\.1:\d+", log.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"hf serve did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc, found.group(0)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def spread(values: list[float]) -> dict:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "q1": round(q[0], 3),
        "q3": round(q[2], 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def timed_generate(client: httpx.Client, prompt: str) -> tuple[float, dict]:
    """Seconds for one glb, and the server's stage times (from a JSON reply + GET, as the page does)."""
    start = time.perf_counter()
    reply = client.post("/generate", json={"prompt": prompt})
    reply.raise_for_status()
    body = reply.json()
    client.get(body["url"]).raise_for_status()
    return time.perf_counter() - start, body["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--memory-requests", type=int, default=500)
    args = parser.parse_args()
    pool = prompts()
    sent = 0

    def next_prompt() -> str:
        nonlocal sent
        sent += 1
        return pool[sent % len(pool)]

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(args.model, Path(tmp) / "serve.log")
        rss: dict[int, float] = {}
        try:
            with httpx.Client(base_url=url, timeout=600) as client:
                timed_generate(client, next_prompt())  # warm-up
                walls, stages = [], []
                for _ in range(args.requests):
                    wall, seconds = timed_generate(client, next_prompt())
                    walls.append(wall)
                    stages.append(seconds)
                    if sent == 10:
                        rss[10] = rss_mib(proc.pid)

                jobs = [next_prompt() for _ in range(args.requests)]
                concurrent: list[float] = []

                def client_thread(mine: list[str]) -> None:
                    with httpx.Client(base_url=url, timeout=600) as own:
                        for p in mine:
                            concurrent.append(timed_generate(own, p)[0])

                threads = [
                    threading.Thread(target=client_thread, args=(jobs[i :: args.clients],)) for i in range(args.clients)
                ]
                start_all = time.perf_counter()
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                concurrent_wall = time.perf_counter() - start_all

                morph = []
                for t in MORPH_STEPS:
                    start = time.perf_counter()
                    body = client.post(
                        "/interpolate", json={"prompt": "a red chair", "to": "a blue bowl", "t": t}
                    ).json()
                    client.get(body["url"]).raise_for_status()
                    morph.append(time.perf_counter() - start)
                    sent += 1

                checkpoints = sorted({10, 100, 200, 300, 400, args.memory_requests})
                while sent < args.memory_requests:
                    timed_generate(client, next_prompt())
                    if sent in checkpoints:
                        rss[sent] = rss_mib(proc.pid)
                rss.setdefault(sent, rss_mib(proc.pid))
                health = client.get("/health").json()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)

    first, last = rss[10], rss[max(rss)]
    print(
        json.dumps(
            {
                "command": " ".join(["python benchmarks/serve_latency.py", *sys.argv[1:]]),
                "machine": f"{platform.machine()}, python {platform.python_version()}",
                "latency_s": spread(walls),
                "stages_median_s": {k: round(statistics.median(s[k] for s in stages), 3) for k in stages[0]},
                "concurrent": {
                    "clients": args.clients,
                    "requests": len(concurrent),
                    "wall_s": round(concurrent_wall, 2),
                    "requests_per_s": round(len(concurrent) / concurrent_wall, 2),
                    "latency_s": spread(concurrent),
                },
                "morph_step_s": spread(morph),
                "rss_mib": {str(k): round(v, 1) for k, v in sorted(rss.items())},
                "rss_growth_10_to_last": round(last / first - 1, 4),
                "served": health["served"],
            }
        )
    )


if __name__ == "__main__":
    main()
