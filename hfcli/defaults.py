"""Defaults a user sees in --help, in one light module (the CLI imports it without torch)."""

TEACH_STEPS = 400  # reaches > 28 dB on every studio teacher set (see BENCHMARKS.md)
RAYS_PER_STEP = 4096
MESH_RESOLUTION = 128
# Surface of a mesh: where density crosses this. The studio's boundary (sdf = 0) sits at half
# its SIGMA_MAX of 100, and a field learned from it reproduces that crossing.
MESH_DENSITY_THRESHOLD = 50.0
RENDER_RESOLUTION = 256
STUDIO_VIEWS = 24
STUDIO_RESOLUTION = 128
