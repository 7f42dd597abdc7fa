"""Run the Khronos glTF validator (npm package gltf-validator) on a file; skip where absent."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def validate_glb(path: Path) -> dict:
    """The validator's report for `path` (skips the calling test without node or the package)."""
    node = shutil.which("node")
    package = ROOT / ".tools" / "node_modules" / "gltf-validator"
    if node is None or not package.is_dir():
        pytest.skip("node or gltf-validator not installed: run `make tools`")
    run = subprocess.run(
        [node, str(ROOT / "tests" / "gltf_validate.mjs"), str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.stdout, run.stderr
    return json.loads(run.stdout)
