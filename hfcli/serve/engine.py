"""The model behind `hf serve`: loaded once, turning prompts into glb bytes in memory.

Everything here is synchronous and runs on the server's one worker thread (hfcli/serve/worker.py);
the event loop never touches torch. The stages and their names follow `hf generate --json`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..errors import HfcliError
from ..gltf import glb_bytes
from ..model import PromptModel
from ..output_config import MeshConfig
from ..outputs import mesh_for_file, scene_mesh
from ..studio.vocab import learned_shapes, unlearned_shape_note
from ..text import check_prompt

WARM_UP_RESOLUTION = 32


@dataclass
class MeshResult:
    glb: bytes
    faces: int
    notes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


class Engine:
    """A student or teacher with its text encoder, ready to mesh prompts and morphs."""

    def __init__(self, model_path: Path | str, device: str | torch.device = "cpu"):
        start = time.perf_counter()
        self.model_path = str(model_path)
        ck = ckpt_io.load(model_path, kinds=("teacher", "student"))
        self.model = PromptModel.from_checkpoint(ck, device=device)
        _ = self.model.encoder  # load now: the first request should cost what every other does
        self.learned = learned_shapes(self.model.prompts)
        # One throw-away pass, so lazy torch and kernel set-up is not billed to the first user.
        try:
            self.generate(self.model.prompts[0] if self.model.prompts else "a chair", WARM_UP_RESOLUTION)
        except HfcliError:
            pass  # a model whose first prompt meshes to nothing can still answer others
        self.load_seconds = round(time.perf_counter() - start, 3)

    def notes(self, *prompts: str) -> list[str]:
        return [n for n in (unlearned_shape_note(p, self.learned) for p in prompts) if n]

    def generate(self, prompt: str, resolution: int) -> MeshResult:
        """One forward pass of the hypernetwork → baked NeRF → the mesh `hf generate` writes
        (textured, 10,000 triangles) → glb."""
        prompt = check_prompt(prompt)
        t0 = time.perf_counter()
        tokens = self.model.encoder.encode([prompt])
        t1 = time.perf_counter()
        scene = self.model.bake_tokens(tokens, [prompt])[0]
        t2 = time.perf_counter()
        mesh, notes, stages = mesh_for_file(scene, MeshConfig(resolution=resolution))
        t3 = time.perf_counter()
        data = glb_bytes(mesh)
        t4 = time.perf_counter()
        seconds = {"text": t1 - t0, "hypernet": t2 - t1, **stages, "glb": t4 - t3}
        return MeshResult(data, int(len(mesh.faces)), self.notes(prompt) + notes, _rounded(seconds))

    def morph(self, prompt: str, to: str, t: float, resolution: int) -> MeshResult:
        """The mesh at t on the straight line between two prompts' scene codes (as `hf interpolate`),
        vertex-coloured: the slider asks for a frame at every move, and unwrapping and baking
        would more than double a frame's time (BENCHMARKS.md, "Textured meshes")."""
        prompt, to = check_prompt(prompt), check_prompt(to)
        t0 = time.perf_counter()
        scene = self.model.interpolate(prompt, to, [t])[0]
        t1 = time.perf_counter()
        mesh = scene_mesh(scene, resolution)
        t2 = time.perf_counter()
        data = glb_bytes(mesh)
        t3 = time.perf_counter()
        # interpolate encodes both prompts and bakes the code in one call: text and hypernet together.
        seconds = {"text+hypernet": t1 - t0, "mesh": t2 - t1, "glb": t3 - t2}
        return MeshResult(data, int(len(mesh.faces)), self.notes(prompt, to), _rounded(seconds))


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in seconds.items()}
