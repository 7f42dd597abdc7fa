"""The inset on exact shapes: each studio shape's true surface, the level 0.021 outside it (what a
density field's smooth mesh level is, BENCHMARKS.md), and that level moved back in by 0.021 with
hfcli/inset.py, all meshed by the same marching cubes at 128³ and scored against the exact SDF.

    python benchmarks/inset_truth.py [chair pot ...]      # default: the ten trained shapes

If the inset is faithful, the third column matches the first: the edges and corners the outer
level rounds come back as sharp as marching cubes makes them.
"""

from __future__ import annotations

import sys

import mcubes
import numpy as np
import torch

from hfcli.export import Mesh, _clean
from hfcli.inset import inset_surface
from hfcli.metrics import surface_figures
from hfcli.scene import box_corners
from hfcli.studio.shapes import shape_sdf

SHAPES = ("chair", "pot", "toaster", "bench", "stool", "bowl", "vase", "skateboard", "knife", "plate")
OUTSIDE = 0.021
RES = 128


def mesh_of(v: np.ndarray, f: np.ndarray) -> Mesh:
    zeros = np.zeros_like(v, dtype=np.float32)
    return Mesh(v.astype(np.float32), f.astype(np.uint32), zeros, zeros)


def cell(mesh: Mesh, shape: str) -> str:
    x = surface_figures(mesh.vertices, mesh.faces, lambda p: shape_sdf(shape, p)[0])
    return f"{x['normal_consistency']:.4f}, {100 * x['faces_off_30']:.2f}%, {x['surface_distance']:.4f}"


def main() -> None:
    lo, hi = (np.asarray(c, dtype=np.float64) for c in box_corners())
    step = (hi - lo) / (RES - 1)
    axes = [lo[i] + np.arange(RES) * step[i] for i in range(3)]
    points = torch.tensor(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3), dtype=torch.float32)
    print(f"| shape | true surface | the level {OUTSIDE} outside | that level inset by {OUTSIDE} |\n|---|---|---|---|")
    for shape in sys.argv[1:] or SHAPES:
        sdf = shape_sdf(shape, points)[0].numpy().reshape(RES, RES, RES).astype(np.float64)
        cells = []
        for outside in (0.0, OUTSIDE):
            field = outside - sdf  # high inside, as marching cubes meshes a density
            v, f = mcubes.marching_cubes(np.pad(field, 1, constant_values=-1.0), 0.0)
            v, f = _clean(lo + (v - 1.0) * step, f.astype(np.int64), 0.05, 0.0)
            cells.append(cell(mesh_of(v, f), shape))
        v, f = inset_surface(v, f, field > 0, lo, step, OUTSIDE)
        cells.append(cell(mesh_of(*_clean(v, f, 0.05, 0.0)), shape))
        print(f"| {shape} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
