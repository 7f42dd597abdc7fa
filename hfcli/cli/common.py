"""What every command shares: the Typer app, common options, output, prompt files, progress bars."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

from ..errors import HfcliError

stderr = Console(stderr=True)
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help=(
        "Text to NeRF and glTF mesh with a dynamic hypernetwork (HyperFields).\n\n"
        "Train teachers on prompt files, distil them into one student, then turn any prompt "
        "into a mesh in one forward pass. Any other command (download, auth, cache, upload, ...) "
        "is passed on to huggingface_hub's `hf`."
    ),
)

JsonOpt = typer.Option(False, "--json", help="Print one JSON object (paths, figures, timings) as the last line.")
ModelArg = typer.Argument(
    ...,
    help="A teacher or student checkpoint, a baked NeRF (.safetensors), or 'default' (the bundled model).",
    show_default=False,
)
ModelOpt = typer.Option("default", help="A student or teacher checkpoint; 'default' is the model bundled with hfcli.")
PromptOpt = typer.Option(None, "--prompt", "-p", help="Prompt to bake (needed for a teacher or student).")
ResumeOpt = typer.Option(False, "--resume", help="Continue from the last save in --out.")


def _use_backend(value: str | None) -> str | None:
    from ..render import backend

    backend.on_build = lambda msg: stderr.print(msg, highlight=False, markup=False, soft_wrap=True)
    try:
        backend.use(value)
    except backend.BackendError as err:
        raise typer.BadParameter(str(err)) from None
    return value


BackendOpt = typer.Option(
    None,
    callback=_use_backend,
    show_default="auto, or $HFCLI_BACKEND",
    help="Raymarcher: auto (the fastest that works), torch, cpp (C++ kernels, built on first use) or cuda.",
)


def use_device(value: str) -> str:
    from ..device import resolve

    try:
        resolve(value)  # cuda without a GPU: HfcliError, one line and exit 1, before anything is read
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    return value


DeviceOpt = typer.Option(
    "auto",
    "--device",
    callback=use_device,
    help="auto | cpu | cuda: where the command computes; auto is CUDA when torch sees a GPU, and cuda without "
    "one is an error. The CUDA path has not been run on a GPU yet (README).",
)


def lead() -> bool:
    """False on every torchrun rank but rank 0: those train silently and write nothing."""
    return os.environ.get("RANK", "0") == "0"


def emit(result: dict, as_json: bool, summary: str) -> None:
    """Scripts get the JSON object as the last stdout line; people get one summary line."""
    if as_json:
        print(json.dumps(result))
    else:
        stderr.print(summary, soft_wrap=True, highlight=False)


def warn(message: str) -> None:
    stderr.print(message, soft_wrap=True, highlight=False, markup=False)


def read_prompt_file(path: Path) -> list[str]:
    """Non-blank lines that are not #-comments, each checked for length."""
    from ..text import check_prompt

    if not path.exists():
        raise HfcliError(f"no such prompt file: {path}")
    if path.is_dir():
        raise HfcliError(f"{path} is a directory; give a text file with one prompt per line")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise HfcliError(f"{path} is not a UTF-8 text file") from None
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise HfcliError(f"{path} holds no prompts (one prompt per line; # starts a comment)")
    for n, prompt in enumerate(prompts, 1):
        try:
            check_prompt(prompt)
        except HfcliError as err:
            raise HfcliError(f"{path}, prompt {n}: {err}") from None
    return prompts


def check_out(path: Path, suffixes: tuple[str, ...]) -> Path:
    from ..fsutil import check_writable

    if path.suffix.lower() not in suffixes:
        raise HfcliError(f"--out {path}: expected a {' or '.join(suffixes)} file")
    return check_writable(path)


def check_not_the_model(out: Path, model: Path) -> Path:
    """An output that is the very file the command reads its model from would replace it."""
    try:
        same = out.exists() and model.exists() and out.samefile(model)
    except OSError:
        same = False
    if same:
        raise HfcliError(f"--nerf {out} is the model this command reads; give another path")
    return out


def check_out_dir(path: Path) -> Path:
    from ..fsutil import check_writable

    if path.exists() and not path.is_dir():
        raise HfcliError(f"--out {path} exists and is not a directory")
    check_writable(path / "x")
    return path


def psnr_text(psnr: float | None) -> str:
    return "n/a" if psnr is None else f"{psnr:.2f} dB"


class ProgressBars:
    """A Rich progress bar per task; the core reports through `__call__` (see hfcli.progress).
    Drawn from the first report on, so a run that fails its checks prints only its error."""

    def __init__(self, enabled: bool = True):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[figures]}"),
            console=stderr,
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[str, int] = {}
        self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.started:
            self.progress.stop()

    def __call__(self, task: str, done: int, total: int, figures: dict) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total, figures="")
        shown = "  ".join(f"{k} {v:.2f}" for k, v in figures.items() if k in ("psnr", "loss") and isinstance(v, float))
        self.progress.update(self.tasks[task], completed=done, total=total, figures=shown)
