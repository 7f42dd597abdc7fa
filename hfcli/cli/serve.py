"""The serve command: a local web studio and HTTP API over one loaded model (hfcli/serve/)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import BackendOpt, DeviceOpt, ModelOpt, app, stderr


@app.command()
def serve(
    model: Path = ModelOpt,
    host: str = typer.Option(
        "127.0.0.1",
        help=(
            "Address to listen on. The default, loopback, is reachable from this machine only. "
            "0.0.0.0 (or a LAN address) lets anyone who can reach this machine use the page and the "
            "API with no login: make meshes from any prompt and keep its CPU busy."
        ),
    ),
    port: int = typer.Option(
        7860, min=0, max=65535, help="TCP port; 0 takes any free one (the start line says which)."
    ),
    max_queue: int = typer.Option(
        8, min=0, help="Requests that may wait while one is computed; one more is refused with 503 (busy)."
    ),
    backend: str | None = BackendOpt,
    device: str = DeviceOpt,
):
    """A local web studio: type a prompt, turn the mesh with the mouse, morph between two prompts.

    The model loads once; then open the address it prints. The page shows the mesh
    in a 3D viewer served by hfcli itself (no internet needed), the time of each
    stage, a .glb download, and a slider that morphs to a second prompt through
    the scene codes, as `hf interpolate` does. A view can be linked:
    http://127.0.0.1:7860/?prompt=a+red+chair&to=a+blue+bowl

    Scripts call the API the page uses; errors are a 4xx with {"error": "..."}:

      curl -d '{"prompt": "a pink chair", "format": "glb"}' -o chair.glb \\
           http://127.0.0.1:7860/generate
      curl -d '{"prompt": "a red chair", "to": "a blue bowl", "t": 0.5}' \\
           http://127.0.0.1:7860/interpolate
      curl http://127.0.0.1:7860/health

    Queue: one request is computed at a time, in arrival order; up to
    --max-queue wait, and a request whose client hung up before its turn is
    dropped. The page cancels a prompt that a new one replaces, and sends only
    the slider's latest position. Ctrl-C stops the server.
    """
    from ..device import resolve
    from ..serve.app import create_app
    from ..serve.engine import Engine
    from ..serve.server import open_socket, run, url_of

    sock = open_socket(host, port)  # before loading: a taken port fails at once
    try:
        engine = Engine(model, resolve(device))
    except BaseException:
        sock.close()
        raise
    local = sock.getsockname()[0] in ("127.0.0.1", "::1")
    exposed = "" if local else " — beyond loopback: other machines can use it, no login"
    stderr.print(
        f"hf serve: {url_of(sock)} (model {model}, loaded in {engine.load_seconds:.1f} s; Ctrl-C stops){exposed}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    run(create_app(engine, max_queue), sock)
    stderr.print("hf serve: stopped", highlight=False)
