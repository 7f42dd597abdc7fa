"""The page of `hf serve` in headless Chromium: type a prompt, see the model in its colour.

Chromium is driven over the DevTools protocol through a pipe (--remote-debugging-pipe: JSON
messages ended by NUL on file descriptors 3 and 4), so no websocket library is needed. WebGL
runs on SwiftShader. The screenshot is of the viewer only; its pixels must show an object
(not a blank canvas) in the colour the prompt names. Skips where Chromium is not installed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

from tests.test_serve import CHANNEL, Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (Debian: apt-get install chromium)")
SHOWN = "document.body.dataset.state === 'shown' && document.body.dataset.shown"


class Chromium:
    """A headless Chromium with one page, driven over the DevTools protocol on a pipe."""

    def __init__(self, size=(960, 640)):
        self.profile = tempfile.TemporaryDirectory()
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def as_fds_3_and_4():  # in the child, before exec: the protocol's fixed descriptors
            a, b = os.dup(to_chrome), os.dup(from_chrome)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--remote-debugging-pipe", "--use-angle=swiftshader"]
        args += ["--enable-unsafe-swiftshader", f"--user-data-dir={self.profile.name}", "--no-first-run"]
        args += ["--no-default-browser-check", "--disable-extensions", "--mute-audio", "--hide-scrollbars"]
        args += [f"--window-size={size[0]},{size[1]}", "about:blank"]
        # close_fds=False: Python's own descriptors are close-on-exec anyway, and 3 and 4 must stay.
        # Its own process group: close() must stop the renderer and GPU processes too, or they
        # may still write to the profile while it is removed ("Directory not empty").
        self.proc = subprocess.Popen(
            args,
            preexec_fn=as_fds_3_and_4,
            close_fds=False,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer, self._id, self.session = b"", 0, None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._in], [], [], left)[0]:
                    raise TimeoutError(f"chromium did not answer {method}")
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium exited ({self.proc.poll()})")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:  # events and other replies are not needed here
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def js(self, expression: str):
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(reply["exceptionDetails"].get("text", expression))
        return reply["result"].get("value")

    def wait(self, expression: str, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while not (value := self.js(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {expression}; status: {self.js(STATUS)}")
            time.sleep(0.1)
        return value

    def open(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete' && !!customElements.get('model-viewer')", 60)
        self.js("window.el = (id) => document.getElementById(id)")  # shorter expressions below

    def type(self, text: str) -> None:
        """Typed into the focused element, then Enter: as a person does."""
        self.send("Input.insertText", {"text": text})
        enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **enter})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **enter})

    def viewer_pixels(self) -> np.ndarray:
        box = self.js("(({x, y, width, height}) => ({x, y, width, height}))(el('viewer').getBoundingClientRect())")
        shot = self.send("Page.captureScreenshot", {"format": "png", "clip": {**box, "scale": 1}})
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB"), dtype=np.float32)

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        os.close(self._out)
        os.close(self._in)
        for attempt in range(50):  # the group's other processes exit on their own time, briefly
            try:
                self.profile.cleanup()
                break
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.1)


STATUS = "document.body.dataset.state + ': ' + document.getElementById('status').textContent"


def object_colour(pixels: np.ndarray) -> tuple[float, np.ndarray]:
    """(share of the viewer that is not the white background, median colour of that part)."""
    thing = (255.0 - pixels).max(axis=2) > 40
    return float(thing.mean()), np.median(pixels[thing], axis=0) if thing.any() else np.zeros(3)


def assert_shows(browser: Chromium, colour: str) -> None:
    """The viewer shows an object in `colour`; retried for a second while the first frames paint."""
    for _ in range(10):
        share, median = object_colour(browser.viewer_pixels())
        k = CHANNEL[colour]
        if share > 0.02 and median[k] > np.delete(median, k).max() + 40:
            return
        time.sleep(0.1)
    raise AssertionError(f"expected a {colour} object; {share:.1%} of the viewer is not blank, median {median}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("serve"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


def test_typing_a_prompt_shows_the_model_in_its_colour(server, browser):
    browser.open(server.url + "/")
    assert browser.js(STATUS).startswith("idle")
    browser.js("el('resolution').value = '64'")  # the fast detail: a quicker test
    browser.js("el('prompt').focus()")
    browser.type("a red chair")
    assert browser.wait(SHOWN) == "a red chair"
    assert_shows(browser, "red")
    assert browser.js("location.search") == "?prompt=a+red+chair"  # the view can be linked
    assert browser.js("el('download').download") == "a_red_chair.glb"
    assert browser.js("el('download').href").startswith("blob:")
    stages = browser.js("[...document.querySelectorAll('#timings td:first-child')].map(td => td.textContent)")
    assert {"queued", "text", "hypernet", "mesh", "glb"} <= set(stages)
    assert browser.js("el('note').hidden") is True


def test_a_new_prompt_replaces_the_one_being_computed(server, browser):
    views = int(browser.js("document.body.dataset.views || 0"))
    browser.js("el('resolution').value = '192'")  # slow: still computing below
    browser.js("el('prompt').select()")
    browser.type("a blue chair")
    browser.wait("document.body.dataset.state === 'busy'", 10)
    browser.js("el('resolution').value = '64'; el('prompt').select()")
    browser.type("a green chair")  # the page takes it while the first is computed
    assert browser.wait(SHOWN) == "a green chair"
    assert_shows(browser, "green")
    assert int(browser.js("document.body.dataset.views")) == views + 1  # the blue chair was never shown


def test_a_linked_view_shows_its_morph_and_the_note(server, browser):
    browser.open(server.url + "/?prompt=a+red+chair&to=a+blue+bowl&t=1")
    assert browser.wait(SHOWN) == "a red chair → a blue bowl @ t=1.00"
    assert_shows(browser, "blue")
    assert browser.js("['prompt', 'to', 't'].map(id => el(id).value)") == ["a red chair", "a blue bowl", "1"]
    browser.js("el('resolution').value = '64'; el('prompt').select()")
    browser.type("a green mug")
    assert browser.wait(SHOWN) == "a green mug"
    note = browser.js("el('note').hidden ? '' : el('note').textContent")
    assert "names none of the shapes" in note
