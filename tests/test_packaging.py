"""pyproject lists hfcli's packages by hand (to ship ext/raymarch inside): none may be missing."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_and_the_kernel_sources_are_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "hfcli").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"
    src = ROOT / config["package-dir"]["hfcli._ext.raymarch"]
    patterns = config["package-data"]["hfcli._ext.raymarch"]
    shipped = {p.name for pattern in patterns for p in src.glob(pattern)}
    assert shipped == {p.name for p in src.iterdir() if p.is_file()}
