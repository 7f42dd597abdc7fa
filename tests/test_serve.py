"""`hf serve`: the HTTP API of a real server in a subprocess on a free loopback port, and its queue.

The server runs the bundled model; meshes are asked for at low resolution so the file stays fast.
Colours are read back from each glb's vertex colours, so a reply that carries another
request's mesh (or an interpolation that ignores t) fails.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pygltflib
import pytest
import trimesh

from hfcli.cli import run
from hfcli.serve.worker import Busy, Gone, MeshStore, Worker

HF = Path(sys.executable).with_name("hf")
RES = 32  # marching cubes at 32³: a few tenths of a second per mesh
CHANNEL = {"red": 0, "green": 1, "blue": 2}


class Server:
    """`hf serve --port 0` in a subprocess; the port is read from its start line."""

    def __init__(self, tmp: Path, *args: str, timeout: float = 120):
        self.log = tmp / "serve.log"
        with open(self.log, "w") as log:  # a file, not a pipe: nobody has to drain it
            self.proc = subprocess.Popen([str(HF), "serve", "--port", "0", *args], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not (found := re.search(r"http://127\.0\.0\.1:(\d+)/", self.log.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"hf serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        self.port = int(found.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("serve"))
    yield srv
    srv.stop()
    assert srv.proc.returncode == 0, srv.log.read_text()  # Ctrl-C is a clean stop, not a crash


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def glb_colours(data: bytes) -> np.ndarray:
    """The colours [V, 3] at the vertices of an hfcli glb, from its texture (read by trimesh) or
    its vertex colours; asserts it is a glb with triangles."""
    assert data[:4] == b"glTF", data[:80]
    g = pygltflib.GLTF2.load_from_bytes(data)
    primitive = g.meshes[0].primitives[0]
    assert primitive.mode == pygltflib.TRIANGLES and g.accessors[primitive.indices].count >= 3 * 100
    if primitive.attributes.COLOR_0 is None:
        mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh")
        return mesh.visual.to_color().vertex_colors[:, :3] / 255.0
    acc = g.accessors[primitive.attributes.COLOR_0]
    view = g.bufferViews[acc.bufferView]
    offset = view.byteOffset + (acc.byteOffset or 0)
    return np.frombuffer(g.binary_blob(), np.float32, acc.count * 3, offset).reshape(-1, 3)


def assert_colour(data: bytes, colour: str) -> None:
    median = np.median(glb_colours(data), axis=0)
    k = CHANNEL[colour]
    others = np.delete(median, k)
    assert median[k] > others.max() + 0.15, f"expected a {colour} mesh, median colour {median.round(2)}"


def health(client) -> dict:
    reply = client.get("/health")
    assert reply.status_code == 200
    return reply.json()


def test_health_names_the_model_and_the_queue(client):
    h = health(client)
    assert h["status"] == "ok" and h["model"] == "default" and "chair" in h["learned_shapes"]
    assert {"busy", "waiting", "max_queue", "served", "dropped", "refused"} <= h.keys()


def test_generate_returns_a_glb_of_the_prompt(client):
    reply = client.post("/generate", json={"prompt": "a red chair", "resolution": RES, "format": "glb"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "model/gltf-binary"
    assert 'filename="a_red_chair.glb"' in reply.headers["content-disposition"]
    assert_colour(reply.content, "red")


def test_the_glb_passes_the_khronos_validator(client, tmp_path):
    from tests.gltf_check import validate_glb

    path = tmp_path / "chair.glb"
    path.write_bytes(
        client.post("/generate", json={"prompt": "a blue chair", "resolution": RES, "format": "glb"}).content
    )
    assert validate_glb(path)["issues"]["numErrors"] == 0


def test_json_reply_links_the_mesh_with_stage_timings_and_the_note(client):
    reply = client.post("/generate", json={"prompt": "a blue bowl", "resolution": RES})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["prompt"] == "a blue bowl" and body["note"] is None and body["faces"] > 0
    assert set(body["seconds"]) == {"queued", "text", "hypernet", "mesh", "decimate", "unwrap", "bake", "glb"}
    mesh = client.get(body["url"])
    assert mesh.status_code == 200 and len(mesh.content) == body["bytes"]
    assert_colour(mesh.content, "blue")
    # A shape the model never learned still gets a mesh, with the note that says so.
    mug = client.post("/generate", json={"prompt": "a red mug", "resolution": RES}).json()
    assert "names none of the shapes" in mug["note"] and "mug" in mug["note"]


def test_interpolate_walks_from_the_first_prompt_to_the_second(client):
    ends = {}
    for t in (0.0, 1.0):
        reply = client.post(
            "/interpolate",
            json={"prompt": "a red chair", "to": "a blue bowl", "t": t, "resolution": RES, "format": "glb"},
        )
        assert reply.status_code == 200, reply.text
        ends[t] = reply.content
    assert_colour(ends[0.0], "red")
    assert_colour(ends[1.0], "blue")
    body = client.post("/interpolate", json={"prompt": "a red chair", "to": "a blue bowl", "resolution": RES}).json()
    assert body["t"] == 0.5 and client.get(body["url"]).status_code == 200


BIG = b'{"prompt": "' + b"a" * 70_000 + b'"}'
BAD = {
    "empty prompt": ("POST", "/generate", {"json": {"prompt": ""}}, 400),
    "blank prompt": ("POST", "/generate", {"json": {"prompt": "   "}}, 400),
    "10,000 characters": ("POST", "/generate", {"json": {"prompt": "a red chair " * 834}}, 400),
    "not JSON": ("POST", "/generate", {"content": b"prompt=a red chair"}, 400),
    "not UTF-8": ("POST", "/generate", {"content": b'{"prompt": "\xff\xfe"}'}, 400),
    "prompt a number": ("POST", "/generate", {"json": {"prompt": 5}}, 422),
    "resolution a string": ("POST", "/generate", {"json": {"prompt": "a red chair", "resolution": "high"}}, 422),
    "resolution too high": ("POST", "/generate", {"json": {"prompt": "a red chair", "resolution": 4096}}, 422),
    "a list, not an object": ("POST", "/generate", {"json": ["a red chair"]}, 422),
    "misspelt field": ("POST", "/generate", {"json": {"promt": "a red chair"}}, 422),
    "t a string": ("POST", "/interpolate", {"json": {"prompt": "a", "to": "b", "t": "half"}}, 422),
    "t past 1": ("POST", "/interpolate", {"json": {"prompt": "a red chair", "to": "a blue bowl", "t": 2}}, 422),
    "no second prompt": ("POST", "/interpolate", {"json": {"prompt": "a red chair"}}, 422),
    "body over the limit": ("POST", "/generate", {"content": BIG}, 413),
    "streamed body over the limit": ("POST", "/generate", {"content": iter([BIG[:40_000], BIG[40_000:]])}, 413),
    "unknown route": ("GET", "/nowhere", {}, 404),
    "unknown mesh": ("GET", "/mesh/0123456789abcdef.glb", {}, 404),
    "wrong method": ("GET", "/generate", {}, 405),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_a_one_line_json_4xx_and_the_server_keeps_serving(client, case):
    method, route, kwargs, status = BAD[case]
    reply = client.request(method, route, **kwargs)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert "\n" not in reply.text and list(reply.json()) == ["error"]
    message = reply.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    assert health(client)["status"] == "ok"


def test_concurrent_requests_are_all_answered_each_with_its_own_mesh(server, client):
    prompts = ["a red chair", "a blue chair", "a green chair", "a red bowl", "a blue bowl", "a green bowl"]
    served = health(client)["served"]
    replies: dict[str, httpx.Response] = {}

    def ask(prompt: str) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as own:
            replies[prompt] = own.post("/generate", json={"prompt": prompt, "resolution": RES, "format": "glb"})

    threads = [threading.Thread(target=ask, args=(p,)) for p in prompts]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert sorted(replies) == sorted(prompts)
    for prompt, reply in replies.items():
        assert reply.status_code == 200, (prompt, reply.text)
        assert_colour(reply.content, prompt.split()[1])
    assert health(client)["served"] == served + len(prompts)


def _while_busy(server, client, check) -> None:
    """Run `check()` while a slow mesh (192³) is being computed."""
    slow = threading.Thread(
        target=lambda: httpx.post(
            f"{server.url}/generate", json={"prompt": "a red vase", "resolution": 192}, timeout=120
        )
    )
    slow.start()
    try:
        deadline = time.monotonic() + 60
        # /health can only say busy if the event loop answers while the worker thread computes.
        while not health(client)["busy"]:
            assert time.monotonic() < deadline, "never saw the server busy: is the event loop blocked?"
            time.sleep(0.02)
        check()
    finally:
        slow.join(timeout=120)


def test_the_server_answers_while_a_mesh_is_computed(server, client):
    seen = []
    _while_busy(server, client, lambda: seen.append(health(client)))
    assert seen[0]["busy"] is True


def test_a_request_whose_client_left_before_its_turn_is_dropped(server, client):
    before = health(client)

    def hang_up():
        body = json.dumps({"prompt": "a blue vase", "resolution": RES}).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            head = f"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            sock.sendall(head + body)
            deadline = time.monotonic() + 10
            while health(client)["waiting"] < 1:  # queued behind the slow one: now leave
                assert time.monotonic() < deadline
                time.sleep(0.02)

    _while_busy(server, client, hang_up)
    deadline = time.monotonic() + 30
    while (after := health(client))["dropped"] == before["dropped"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after["dropped"] == before["dropped"] + 1
    assert after["served"] == before["served"] + 1  # the slow one only


def test_a_port_in_use_is_one_line_and_exit_1(server, capsys):
    rc = run(["serve", "--port", str(server.port)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "already in use" in err and "--port" in err, err


def test_help_says_what_listening_beyond_loopback_exposes(capsys):
    assert run(["serve", "--help"]) == 0
    text = re.sub(r"[│\s]+", " ", capsys.readouterr().out)  # the option table's borders out
    assert "loopback" in text and "0.0.0.0" in text and "no login" in text and "curl" in text


def test_the_page_and_its_viewer_come_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'src="([^"]+)"', page.text)
    assert "static/model-viewer.min.js" in sources and not any("//" in s for s in sources)  # nothing from the web
    viewer = client.get("/static/model-viewer.min.js")
    assert viewer.status_code == 200 and 100_000 < len(viewer.content) < 1_500_000
    assert client.get("/static/app.js").status_code == 200


# The queue itself, in-process: its policy does not need a model.


def _worker_run(worker: Worker, job, gone=False):
    async def left():
        return gone

    return worker.run(job, left)


def test_the_queue_is_first_come_first_served_one_at_a_time_and_bounded():
    async def scenario():
        worker, release, order = Worker(max_queue=3), threading.Event(), []
        running = []

        def job(name):
            def work():
                running.append(name)
                assert len(running) == 1, "two jobs at once"
                if name == "first":
                    release.wait(10)
                order.append(name)
                running.remove(name)
                return name

            return work

        first = asyncio.ensure_future(_worker_run(worker, job("first")))
        while not worker.busy:
            await asyncio.sleep(0.001)
        waiting = [asyncio.ensure_future(_worker_run(worker, job(n))) for n in ("second", "third")]
        dropped = asyncio.ensure_future(_worker_run(worker, job("gone"), gone=True))
        await asyncio.sleep(0.01)
        with pytest.raises(Busy):  # three wait already
            await _worker_run(worker, job("fourth"))
        release.set()
        results = await asyncio.gather(first, *waiting, return_exceptions=True)
        assert [r[0] for r in results] == ["first", "second", "third"]
        with pytest.raises(Gone):
            await dropped
        worker.close()
        return order, worker

    order, worker = asyncio.run(scenario())
    assert order == ["first", "second", "third"]  # "gone" was never computed
    assert (worker.served, worker.dropped, worker.refused) == (3, 1, 1)


def test_the_mesh_store_keeps_the_latest_within_its_count_and_bytes():
    store = MeshStore(max_items=3, max_bytes=250)
    keys = [store.put(bytes([i]) * 100) for i in range(5)]
    assert [store.get(k) is not None for k in keys] == [False, False, False, True, True]
    assert store.get(keys[-1]) == bytes([4]) * 100
    big = store.put(b"x" * 1000)  # bigger than the store: still kept until the next one
    assert store.get(big) is not None and len(store) == 1
    small = [store.put(b"s") for _ in range(5)]
    assert [store.get(k) is not None for k in small] == [False, False, True, True, True]
