"""The ASGI app of `hf serve`: the page at /, its static files, and the JSON API.

    POST /generate     {"prompt", "resolution"?, "format"?: "json"|"glb"}
    POST /interpolate  {"prompt", "to", "t"?, "resolution"?, "format"?}
    GET  /mesh/ID.glb  a mesh a JSON reply pointed to (the latest ones only)
    GET  /health       model, queue and counters

Every error is a 4xx (or 503 when the queue is full) with one line of JSON, {"error": "..."}.
Bodies are parsed here rather than by FastAPI, whatever their content type, so `curl -d` works
without a header and every message is ours. The queue policy is in hfcli/serve/worker.py.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import HfcliError
from ..output_config import InterpolateConfig, MeshConfig
from ..studio.dataset import slug
from .engine import Engine, MeshResult
from .worker import Busy, Gone, MeshStore, Worker

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024  # a prompt is at most 1000 characters; 64 KiB leaves room for any sane body
STORE_ITEMS, STORE_BYTES = 16, 64 * 1024 * 1024  # 16 meshes of 128³ are about 25 MB
MAX_RESOLUTION = 256  # 256³ takes seconds; more would let one request hold the queue for minutes
MAX_ERROR_CHARS = 300
GLB = "model/gltf-binary"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers


class GenerateRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    prompt: str
    resolution: int = Field(MeshConfig.resolution, ge=16, le=MAX_RESOLUTION)
    format: Literal["json", "glb"] = "json"


class InterpolateRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    prompt: str
    to: str
    t: float = Field(0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    resolution: int = Field(InterpolateConfig.resolution, ge=16, le=MAX_RESOLUTION)
    format: Literal["json", "glb"] = "json"


EXAMPLES = {
    GenerateRequest: '{"prompt": "a pink chair"}',
    InterpolateRequest: '{"prompt": "a red chair", "to": "a blue bowl", "t": 0.5}',
}


def one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, declared (Content-Length) or streamed
    (chunked), before any of it reaches a handler. Pure ASGI: the body is read here and replayed."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = error_response(413, f"request body over the limit of {self.limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_big(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: the handler will see the disconnect
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await too_big(scope, receive, send)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: disconnect notices, as the server sends them

        return await self.app(scope, replay, send)


def create_app(engine: Engine, max_queue: int = 8, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    worker = Worker(max_queue)
    store = MeshStore(STORE_ITEMS, STORE_BYTES)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        worker.close()

    # No /docs: Swagger's page loads its scripts from a CDN, and this server must work offline.
    app = FastAPI(
        title="hf serve", version=__version__, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.add_middleware(BodyLimit, limit=max_body)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(ApiError)
    async def _api_error(_request, err: ApiError):
        return error_response(err.status, str(err), err.headers)

    @app.exception_handler(HfcliError)
    async def _user_error(_request, err: HfcliError):
        return error_response(400, str(err))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        where = f"{request.method} {request.url.path}"
        if err.status_code == 404:
            message = f"no such route: {where}; see GET /health, POST /generate, POST /interpolate"
        elif err.status_code == 405:
            allowed = (getattr(err, "headers", None) or {}).get("Allow")
            message = f"method not allowed: {where}" + (f"; use {allowed}" if allowed else "")
        else:
            message = str(err.detail)
        return error_response(err.status_code, message, getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(_request, err: Exception):
        return error_response(500, f"internal error: {type(err).__name__}: {err}")

    async def compute(request: Request, job) -> tuple[MeshResult, float]:
        try:
            return await worker.run(job, request.is_disconnected)
        except Busy as err:
            raise ApiError(503, str(err), {"Retry-After": "1"}) from None
        except Gone:
            raise ApiError(499, "the client closed the request before its turn") from None

    def reply(result: MeshResult, queued: float, fmt: str, name: str, meta: dict):
        if fmt == "glb":
            headers = {"Content-Disposition": f'attachment; filename="{name}.glb"'}
            return Response(result.glb, media_type=GLB, headers=headers)
        return {
            "url": f"/mesh/{store.put(result.glb)}.glb",
            **meta,
            "faces": result.faces,
            "bytes": len(result.glb),
            "note": " ".join(result.notes) or None,
            "seconds": {"queued": round(queued, 4), **result.seconds},
        }

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/health")
    async def health():
        return {
            "status": "ok",
            "version": __version__,
            "model": engine.model_path,
            "learned_shapes": sorted(engine.learned),
            "busy": worker.busy,
            "waiting": worker.waiting,
            "max_queue": worker.max_queue,
            "served": worker.served,
            "dropped": worker.dropped,
            "refused": worker.refused,
        }

    @app.post("/generate")
    async def generate(request: Request):
        body = await parse(request, GenerateRequest)
        result, queued = await compute(request, lambda: engine.generate(body.prompt, body.resolution))
        meta = {"prompt": body.prompt, "resolution": body.resolution}
        return reply(result, queued, body.format, slug(body.prompt), meta)

    @app.post("/interpolate")
    async def interpolate(request: Request):
        body = await parse(request, InterpolateRequest)
        result, queued = await compute(request, lambda: engine.morph(body.prompt, body.to, body.t, body.resolution))
        meta = {"prompt": body.prompt, "to": body.to, "t": body.t, "resolution": body.resolution}
        return reply(result, queued, body.format, f"{slug(body.prompt)}_to_{slug(body.to)}_{body.t:.2f}", meta)

    @app.get("/mesh/{key}.glb")
    async def mesh(key: str):
        data = store.get(key)
        if data is None:
            raise ApiError(404, f"no mesh {key}: only the latest meshes are kept; ask for it again")
        return Response(data, media_type=GLB, headers={"Cache-Control": "private, max-age=3600"})

    return app


async def parse(request: Request, model: type[BaseModel]) -> BaseModel:
    """The body as `model`, or an ApiError that says what is wrong with it in one line."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError alike
        raise ApiError(400, f"the body is not JSON ({err}); send an object such as {EXAMPLES[model]}") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ApiError(422, describe(err, model)) from None


def describe(err: ValidationError, model: type[BaseModel]) -> str:
    errors = err.errors()
    # A misspelt field also leaves the real one missing: naming the unknown one helps more.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    name = ".".join(str(p) for p in first["loc"])
    fields = ", ".join(model.model_fields)
    if first["type"] == "missing":
        return f"missing field {name!r}; for example {EXAMPLES[model]}"
    if first["type"] == "extra_forbidden":
        return f"unknown field {name!r}; the fields are {fields}"
    if not name:
        return f"the body must be a JSON object such as {EXAMPLES[model]}"
    return f"field {name!r}: {first['msg']}"
