"""Defaults a user sees in --help, in one light module (the CLI imports it without torch)."""

DISTILL_STEPS = 4000  # the full run (BENCHMARKS.md): 3000 steps left the student 1.2 dB from its teachers, 4000 0.9 dB
# A student's shared encoding. Doubling both bought +0.3 dB on a 3-shape pilot at ~1.4x the
# step time (BENCHMARKS.md), so the default stays at a teacher's width.
STUDENT_PLANE_FEATURES = 16
STUDENT_GRID_FEATURES = 8
TEACH_STEPS = 400  # reaches > 28 dB on every studio teacher set (see BENCHMARKS.md)
RAYS_PER_STEP = 4096
MESH_RESOLUTION = 128
# Fallback surface density for a mesh when a field shows no opaque pixel to measure its own
# (the studio's boundary, sdf = 0, sits at half its SIGMA_MAX of 100).
MESH_DENSITY_THRESHOLD = 50.0
RENDER_RESOLUTION = 256
STUDIO_VIEWS = 24
STUDIO_RESOLUTION = 128
FINETUNE_STEPS = 300  # the most a finetune takes; studio finetunes usually stop earlier at --target-psnr
SD_GUIDANCE_SCALE = 100.0  # classifier-free guidance scale of score distillation (DreamFusion)
