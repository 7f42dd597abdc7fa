"""Mesh files: which format a path asks for, and writing a mesh in it.

glb through hfcli/gltf.py (pygltflib, the default's fast path); OBJ (+ MTL + PNG) and PLY through
trimesh, which writes both as Blender and MeshLab read them, imported only when asked for (it
costs half a second). Every file is written atomically; an OBJ's three files appear together,
the .obj last, or none of them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from .errors import HfcliError
from .export import Mesh
from .fsutil import atomic_path
from .gltf import ROUGHNESS, write_glb, write_textured_glb
from .texture import TexturedMesh

SUFFIXES = {".glb": "glb", ".obj": "obj", ".ply": "ply"}


def mesh_format(path: Path, fmt: str | None = None) -> str:
    """The format of an --out path (by its suffix), checked against --format when that is given."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise HfcliError(f"--out {path}: expected a {', '.join(SUFFIXES)} file")
    if fmt is not None and SUFFIXES[suffix] != fmt:
        raise HfcliError(f"--format {fmt} but --out {path} is {suffix}: give a .{fmt} path or drop --format")
    return SUFFIXES[suffix]


def companions(path: Path) -> list[Path]:
    """Every file that writing a mesh to `path` makes: an OBJ brings its .mtl and .png."""
    path = Path(path)
    if path.suffix.lower() == ".obj":
        return [path, path.with_suffix(".mtl"), path.with_suffix(".png")]
    return [path]


def write_mesh(mesh: Mesh | TexturedMesh, path: str | os.PathLike) -> list[str]:
    """Write `mesh` in the format of `path`'s suffix; returns the paths written."""
    path = Path(path)
    fmt = mesh_format(path)
    if fmt == "glb":
        (write_textured_glb if isinstance(mesh, TexturedMesh) else write_glb)(mesh, path)
        return [str(path)]
    if fmt == "ply":
        if isinstance(mesh, TexturedMesh):
            raise ValueError("PLY carries vertex colours: mesh with vertex colours for a .ply")
        _write_trimesh(_trimesh(mesh), path, "ply")
        return [str(path)]
    return _write_obj(mesh, path)


def _trimesh(mesh: Mesh | TexturedMesh):
    import trimesh

    kwargs = {}
    if isinstance(mesh, TexturedMesh):
        from PIL import Image

        material = trimesh.visual.material.SimpleMaterial(
            image=Image.fromarray(mesh.texture, "RGB"),
            # White diffuse under the map, no specular: the texture is the whole colour, matte
            # as in the glb (Ns is the Phong exponent of a fully rough surface).
            diffuse=(255, 255, 255, 255),
            ambient=(255, 255, 255, 255),
            specular=(0, 0, 0, 255),
            glossiness=1.0 - ROUGHNESS,
        )
        uv = np.column_stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]])  # OBJ's v runs up the image
        kwargs["visual"] = trimesh.visual.TextureVisuals(uv=uv, material=material)
    else:
        kwargs["vertex_colors"] = np.round(np.clip(mesh.colors, 0, 1) * 255).astype(np.uint8)
    return trimesh.Trimesh(
        vertices=np.asarray(mesh.vertices, dtype=np.float64),
        faces=np.asarray(mesh.faces, dtype=np.int64),
        vertex_normals=np.asarray(mesh.normals, dtype=np.float64),
        process=False,
        **kwargs,
    )


def _write_trimesh(tm, path: Path, file_type: str) -> None:
    with atomic_path(path) as tmp:
        tm.export(tmp, file_type=file_type, **({"vertex_normal": True} if file_type == "ply" else {}))


def _write_obj(mesh: Mesh | TexturedMesh, path: Path) -> list[str]:
    from trimesh.exchange.obj import export_obj

    tm = _trimesh(mesh)
    if isinstance(mesh, TexturedMesh):
        # The material takes the file's name, so its texture is NAME.png beside NAME.mtl.
        tm.visual.material.name = path.stem
    text, files = export_obj(
        tm, include_normals=True, include_texture=True, return_texture=True, mtl_name=path.with_suffix(".mtl").name
    )
    files = {path.parent / name: data for name, data in files.items()}
    written = [path, *files]
    with contextlib.ExitStack() as stack:
        # Entered .obj first so it is renamed into place last, once its .mtl and .png are there.
        tmp = {p: stack.enter_context(atomic_path(p)) for p in written}
        tmp[path].write_text(text, encoding="utf-8")
        for p, data in files.items():
            tmp[p].write_bytes(data)
    return [str(p) for p in written]
