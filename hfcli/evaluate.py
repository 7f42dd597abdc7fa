"""Metrics against studio ground truth at the fixed evaluation cameras."""

from __future__ import annotations

import functools

import numpy as np
import torch

from .config import EVAL_RESOLUTION  # noqa: E402  (with the other settings)
from .errors import EmptyMeshError, HfcliError
from .metrics import psnr
from .outputs import render_views
from .progress import Report, no_report
from .render import cameras as cams


@torch.no_grad()
def evaluate_scenes(scenes, truth, resolution: int = EVAL_RESOLUTION, report: Report = no_report) -> dict:
    """Mean PSNR over prompts and the 16 eval cameras (mean of per-image PSNRs). `truth` gives
    the reference images of scene i (`render_views(i, cameras, resolution)`): a studio
    GroundTruth, or anything else that knows the answer."""
    cameras = cams.eval_cameras()
    per_prompt = {}
    for i, scene in enumerate(scenes):
        pred = render_views(scene, cameras, resolution)[0].cpu()  # the truth and the metrics are on the CPU
        gt = truth.render_views(i, cameras, resolution)
        per_prompt[scene.prompt] = round(sum(psnr(p, g) for p, g in zip(pred, gt)) / len(cameras), 3)
        report("evaluating", i + 1, len(scenes), {"psnr": per_prompt[scene.prompt]})
    mean = sum(per_prompt.values()) / max(1, len(per_prompt))
    return {"psnr": round(mean, 3), "per_prompt": per_prompt}


# ───────────────────────────── hf eval ─────────────────────────────

EVAL_MESH_RESOLUTION = 96
SILHOUETTE_OPACITY = 0.5


TRUE_MESH_RESOLUTION = 128
SURFACE_KEYS = ("normal_consistency", "faces_off_30", "surface_distance")


def _true_mesh(shape: str, resolution: int = TRUE_MESH_RESOLUTION, colour=None):
    """The studio shape's exact surface (sdf = 0) by the same marching cubes a model's mesh uses,
    its vertices coloured by `colour` (points [N, 3] → [N, 3]; default black)."""
    from .export import extract_mesh
    from .studio.shapes import shape_sdf

    return extract_mesh(
        lambda p: -shape_sdf(shape, p)[0],
        colour or (lambda p: torch.zeros(len(p), 3)),
        threshold=0.0,
        resolution=resolution,
        fill_cavities=False,
    )


def _true_surface_points(shape: str) -> np.ndarray:
    """Points on the studio shape's true surface (vertices of its sdf = 0 mesh)."""
    return _true_mesh(shape).vertices


def _surface(mesh, shape: str) -> dict:
    """surface_figures of a mesh against the shape's exact SDF, rounded like the other figures."""
    from .metrics import surface_figures
    from .studio.shapes import shape_sdf

    figures = surface_figures(mesh.vertices, mesh.faces, lambda p: shape_sdf(shape, p)[0])
    return {k: round(figures[k], 4) for k in SURFACE_KEYS}


def truth_surface(shape: str, resolution: int = EVAL_MESH_RESOLUTION) -> dict:
    """The ceiling of the surface figures: the shape's true SDF meshed by the same marching
    cubes at the resolution a model's eval mesh uses."""
    return _surface(_true_mesh(shape, resolution), shape)


def image_metrics(scene, truth, index: int) -> dict:
    """PSNR, SSIM and silhouette IoU of one scene against prompt `index` of a GroundTruth,
    over the 16 eval cameras at 64×64."""
    from .metrics import iou, ssim

    cameras = cams.eval_cameras()
    pred, pred_alpha = (t.cpu() for t in render_views(scene, cameras, EVAL_RESOLUTION))
    gt, gt_alpha = truth.views(index, cameras, EVAL_RESOLUTION)
    return {
        "psnr": round(sum(psnr(p, g) for p, g in zip(pred, gt)) / len(cameras), 4),
        "ssim": round(sum(ssim(p, g) for p, g in zip(pred, gt)) / len(cameras), 4),
        "iou": round(iou(pred_alpha > SILHOUETTE_OPACITY, gt_alpha > SILHOUETTE_OPACITY), 4),
    }


# Samples per pixel side when a mesh is drawn for its PSNR: a hard mesh edge is box-filtered, as
# a viewer's anti-aliasing would, where the NeRF's and the truth's soft boundaries blend.
MESH_SUPERSAMPLE = 4


def render_mesh_views(mesh, cameras: cams.Cameras, resolution: int = EVAL_RESOLUTION) -> torch.Tensor:
    """Images [B, H, W, 3] of a textured or vertex-coloured mesh on white (as render_views
    composites a NeRF), by hfcli/rasterize.py."""
    from .rasterize import render_mesh
    from .texture import TexturedMesh

    colour = {"uv": mesh.uv, "texture": mesh.texture} if isinstance(mesh, TexturedMesh) else {"colors": mesh.colors}
    images, _ = render_mesh(mesh.vertices, mesh.faces, cameras, resolution, supersample=MESH_SUPERSAMPLE, **colour)
    return images


@functools.lru_cache(maxsize=32)
def _true_surface_render(shape: str, finish: str, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(shade on black [B, H, W, 3], coverage [B, H, W]) over the eval cameras of the studio
    shape's exact surface (sdf = 0, TRUE_MESH_RESOLUTION), coloured with the studio's light and
    finish for a white albedo: colour is linear in the albedo, so one render serves every colour."""
    from .rasterize import render_mesh
    from .studio.truth import scene_query

    query = scene_query(shape, torch.ones(3), finish)
    mesh = _true_mesh(shape, TRUE_MESH_RESOLUTION, colour=lambda p: query(p)[1])
    return render_mesh(
        mesh.vertices, mesh.faces, cams.eval_cameras(), resolution,
        colors=mesh.colors, supersample=MESH_SUPERSAMPLE, background=0.0,
    )  # fmt: skip


def true_surface_views(truth, index: int, resolution: int = EVAL_RESOLUTION) -> torch.Tensor:
    """Images [B, H, W, 3] on white over the eval cameras of prompt `index` of a GroundTruth as
    a mesh should look: its exact surface drawn as a mesh is drawn. The studio's own views are
    volume renders of a soft density, whose silhouettes lie about 0.03 outside that surface
    (grazing rays turn opaque in its outer tail): against them the exact surface scores 20 dB."""
    prompt = truth.parsed[index]
    shade, coverage = _true_surface_render(prompt.shape, prompt.finish, resolution)
    return truth.albedos[index] * shade + (1.0 - coverage)[..., None]


def mesh_psnr(mesh, truth, index: int, resolution: int = EVAL_RESOLUTION) -> float:
    """PSNR of a mesh against prompt `index` of a GroundTruth drawn as a mesh (true_surface_views),
    over the 16 eval cameras (mean of per-image PSNRs)."""
    pred = render_mesh_views(mesh, cams.eval_cameras(), resolution)
    gt = true_surface_views(truth, index, resolution)
    return round(sum(psnr(p, g) for p, g in zip(pred, gt)) / len(pred), 4)


def output_mesh_psnr(scene, truth, index: int) -> float | None:
    """mesh_psnr of the mesh `hf generate` writes by default (textured, its default budget)."""
    from .output_config import MeshConfig
    from .outputs import mesh_for_file

    try:
        mesh, _, _ = mesh_for_file(scene, MeshConfig())
    except EmptyMeshError:
        return None
    return mesh_psnr(mesh, truth, index)


def mesh_figures(scene, shape: str, true_points: np.ndarray) -> dict:
    """Chamfer distance between the scene's mesh and the shape's true surface, and how smooth
    and true that mesh's surface is (metrics.surface_figures against the exact SDF)."""
    from .metrics import chamfer
    from .outputs import scene_mesh
    from .studio.shapes import shape_sdf

    try:
        mesh = scene_mesh(scene, EVAL_MESH_RESOLUTION)
    except EmptyMeshError:  # JSON has no infinity
        return {"chamfer": None, **dict.fromkeys(SURFACE_KEYS), "mesh_error": "no surface"}
    sdf, _ = shape_sdf(shape, torch.as_tensor(mesh.vertices))
    return {"chamfer": round(chamfer(mesh.vertices, true_points, sdf.abs().numpy()), 4), **_surface(mesh, shape)}


# Added to the colour distance of a training prompt in another finish: more than any RGB
# distance (at most √3), so the baseline keeps the prompt's own finish where it can.
FINISH_MISMATCH = 10.0


def _parsed_training(training: list[str]) -> list[tuple[str, object]]:
    """(text, StudioPrompt) of the training prompts the studio understands."""
    from .studio.vocab import parse_prompt

    out = []
    for text in training:
        try:
            out.append((text, parse_prompt(text)))
        except HfcliError:
            continue
    return out


def nearest_training_prompt(prompt: str, training: list[str]) -> str | None:
    """The retrieval baseline: the training prompt of the same shape in the same finish (where
    there is one) whose base colour is closest in RGB."""
    from .studio.vocab import parse_prompt

    return _nearest(parse_prompt(prompt), _parsed_training(training))


def _nearest(target, training: list[tuple[str, object]]) -> str | None:
    """nearest_training_prompt of a parsed prompt among parsed training prompts."""
    best, best_d = None, float("inf")
    for text, p in training:
        if p.shape != target.shape:
            continue
        d = float(np.linalg.norm(np.subtract(p.albedo, target.albedo)))
        d += FINISH_MISMATCH if p.finish != target.finish else 0.0
        if d < best_d:
            best, best_d = text, d
    return best


def evaluate_model(model, prompts: list[str], with_mesh: bool = True, report: Report = no_report) -> dict:
    """Metrics of a teacher or student on studio prompts, with the retrieval baseline, and their
    means grouped by what the model never saw of each prompt (hfcli/studio/split.py)."""
    from .studio.split import unseen_kind
    from .studio.truth import GroundTruth

    truth = GroundTruth(prompts)  # raises PromptError for prompts outside the vocabulary
    surfaces: dict[str, np.ndarray] = {}
    scenes: dict[str, object] = {}
    chamfers: dict[str, dict] = {}  # a scene's mesh is the same whichever prompt it is scored for
    truths: dict[str, dict] = {}  # the surface figures of each shape's true mesh: the ceiling

    def metrics(scored: str, i: int) -> dict:
        """Metrics of the model's answer to `scored` against the ground truth of prompt i."""
        if scored not in scenes:
            scenes[scored] = model.bake([scored])[0]
        out = image_metrics(scenes[scored], truth, i)
        if with_mesh:
            shape = truth.parsed[i].shape
            if shape not in surfaces:
                surfaces[shape] = _true_surface_points(shape)
                truths[shape] = truth_surface(shape)
            if scored not in chamfers:
                chamfers[scored] = mesh_figures(scenes[scored], shape, surfaces[shape])
            out.update(chamfers[scored])
            # The written mesh's own PSNR, for the model's answer (the baseline's would double the time).
            out["mesh_psnr"] = output_mesh_psnr(scenes[scored], truth, i) if scored == truth.prompts[i] else None
        else:
            out.update({"chamfer": None, **dict.fromkeys(SURFACE_KEYS), "mesh_psnr": None})
        return out

    training = _parsed_training(model.prompts)  # parsed once, not once per prompt
    trained = [p for _, p in training]
    rows = []
    for i, prompt in enumerate(prompts):
        row = {"prompt": prompt, "unseen": unseen_kind(truth.parsed[i], trained), **metrics(prompt, i)}
        neighbour = _nearest(truth.parsed[i], training)
        row["retrieved"] = neighbour
        row["baseline"] = None
        if neighbour is not None:
            # A training prompt is its own nearest neighbour: its baseline is its own row.
            same = {k: row[k] for k in row if k not in ("prompt", "unseen", "retrieved", "baseline")}
            row["baseline"] = same if neighbour == prompt else metrics(neighbour, i)
        rows.append(row)
        report("evaluating", i + 1, len(prompts), {"psnr": row["psnr"]})
    return {
        "prompts": rows,
        "mean": _means(rows),
        "baseline_mean": _means([r["baseline"] for r in rows if r["baseline"]]),
        "groups": {
            kind: {
                "prompts": len(group),
                "mean": _means(group),
                "baseline_mean": _means([r["baseline"] for r in group if r["baseline"]]),
            }
            for kind in dict.fromkeys(r["unseen"] for r in rows)
            for group in [[r for r in rows if r["unseen"] == kind]]
        },
        "truth_surface": truths if with_mesh else None,
        "truth_surface_mean": _means(list(truths.values()), SURFACE_KEYS) if with_mesh else None,
    }


def _means(
    rows: list[dict], keys: tuple[str, ...] = ("psnr", "mesh_psnr", "ssim", "iou", "chamfer", *SURFACE_KEYS)
) -> dict:
    out = {}
    for key in keys:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = round(sum(values) / len(values), 4) if values else None
    return out
