"""Write the studio prompt files under prompts/ from the splits in hfcli.studio.split.

    python benchmarks/make_prompt_files.py [OUT_DIR]    (default: prompts/ beside this folder)
    python benchmarks/make_prompt_files.py --check      (exit 1 if prompts/ differs from the code)

The files are generated, not hand-written, so the splits in prompts/ can never drift from the
ones the code computes. One canonical prompt per line; lines starting with '#' are comments.
prompts/ holds the paper's split; prompts/world/ the world's (colours and finishes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hfcli.studio.split import (
    heldout_colour_prompts,
    heldout_prompts,
    ood_finish_prompts,
    ood_prompts,
    teacher_colours,
    train_prompts,
    world_train_prompts,
    world_zero_shot_prompts,
)
from hfcli.studio.vocab import SHAPES, StudioPrompt

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "prompts"


def prompt_files() -> dict[str, str]:
    """Every prompt file's contents, by path relative to the prompts folder."""

    def text(header: str, prompts: list[StudioPrompt]) -> str:
        return f"# {header}\n" + "".join(p.text + "\n" for p in prompts)

    files = {}
    for shape in SHAPES:
        prompts = [StudioPrompt(shape, c) for c in teacher_colours(shape)]
        files[f"{shape}.txt"] = text(f"teacher set for '{shape}': its 5 training colours", prompts)
    files["train.txt"] = text("all 50 training prompts (10 shapes x 5 colours), in shape order", train_prompts())
    files["heldout.txt"] = text("the 30 held-out zero-shot prompts (3 unseen colours per shape)", heldout_prompts())
    files["ood.txt"] = text("out-of-distribution shapes (never trained), 3 colours each", ood_prompts())

    train = world_train_prompts()
    for shape in SHAPES:
        mine = [p for p in train if p.shape == shape]
        files[f"world/{shape}.txt"] = text(f"world teacher set for '{shape}': its {len(mine)} training prompts", mine)
    files["world/train.txt"] = text(
        f"the world's {len(train)} training prompts (hfcli/studio/split.py), in shape order", train
    )
    zero_shot = world_zero_shot_prompts()
    files["world/zeroshot.txt"] = text(
        f"the world's {len(zero_shot)} zero-shot prompts: every word trained, the combination never", zero_shot
    )
    colours = heldout_colour_prompts()
    files["world/colours_heldout.txt"] = text(
        f"{len(colours)} prompts in colour names never trained, on trained shapes and finishes", colours
    )
    finishes = ood_finish_prompts()
    files["world/ood_finishes.txt"] = text(
        f"{len(finishes)} prompts in the held-out finishes (plaid, marbled) on trained shapes", finishes
    )
    return files


def main(out_dir: Path) -> None:
    for name, contents in prompt_files().items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contents, encoding="utf-8")


def check(out_dir: Path) -> list[str]:
    """The prompt files under out_dir that are missing or differ from the code."""
    stale = []
    for name, contents in prompt_files().items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != contents:
            stale.append(name)
    return stale


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        stale = check(DEFAULT_DIR)
        if stale:
            sys.exit(f"stale prompt files (run benchmarks/make_prompt_files.py): {', '.join(stale)}")
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
