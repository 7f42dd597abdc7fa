"""Write the studio prompt files under prompts/ from the vocabulary in hfcli.studio.vocab.

    python benchmarks/make_prompt_files.py [OUT_DIR]   (default: prompts/ beside this folder)

The files are generated, not hand-written, so the split in prompts/ can never drift from the
one the code computes. One canonical prompt per line; lines starting with '#' are comments.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hfcli.studio.vocab import (
    SHAPES,
    StudioPrompt,
    heldout_prompts,
    ood_prompts,
    teacher_colours,
    train_prompts,
)


def _write(path: Path, header: str, prompts: list[StudioPrompt]) -> None:
    path.write_text(f"# {header}\n" + "".join(p.text + "\n" for p in prompts), encoding="utf-8")


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for shape in SHAPES:
        prompts = [StudioPrompt(shape, c) for c in teacher_colours(shape)]
        _write(out_dir / f"{shape}.txt", f"teacher set for '{shape}': its 5 training colours", prompts)
    _write(out_dir / "train.txt", "all 50 training prompts (10 shapes x 5 colours), in shape order", train_prompts())
    _write(out_dir / "heldout.txt", "the 30 held-out zero-shot prompts (3 unseen colours per shape)", heldout_prompts())
    _write(out_dir / "ood.txt", "out-of-distribution shapes (never trained), 3 colours each", ood_prompts())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "prompts")
