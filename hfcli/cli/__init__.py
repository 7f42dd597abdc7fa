"""`hf` / `hfcli`: the command line. Parses and prints; the maths and the checks live in the core.

Every error a user can cause is one line on stderr and a non-zero exit. `--json` prints one
JSON object as the last line of stdout; progress bars go to stderr. Any first word that is
not ours (download, auth, cache, upload, ...) is handed to huggingface_hub's own `hf`.
Commands: train.py (teach, distill, finetune), make.py (generate, interpolate, export,
render), measure.py (eval, studio); their options come from hfcli/config.py (options.py).
"""

from __future__ import annotations

import gc
import sys
import warnings

import typer

from ..errors import HfcliError
from . import make, measure, train  # noqa: F401  (registers the commands)
from .common import app, stderr

OUR_COMMANDS = ("teach", "distill", "generate", "finetune", "interpolate", "export", "render", "eval", "studio")
EXIT_ERROR = 1
EXIT_USAGE = 2


def _delegate_to_hub(argv: list[str]) -> int:
    try:
        from huggingface_hub.cli.hf import main as hub_main
    except ImportError:
        stderr.print(f"error: unknown command {argv[0]!r}; hfcli commands: {', '.join(OUR_COMMANDS)}")
        return EXIT_USAGE
    sys.argv = ["hf", *argv]
    try:
        hub_main()
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    return 0


def run(argv: list[str]) -> int:
    """Run the CLI on `argv` (without the program name) and return the exit code."""
    import click

    # Typer 0.2x raises its own vendored click's exceptions; older Typer raises click's.
    usage_errors = (click.ClickException, getattr(typer, "TyperException", click.ClickException))

    if argv and not argv[0].startswith("-") and argv[0] not in OUR_COMMANDS:
        return _delegate_to_hub(argv)
    warnings.showwarning = _show_warning
    try:
        result = app(args=argv, prog_name="hf", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except HfcliError as err:
        return _error(str(err), EXIT_ERROR)
    except usage_errors as err:
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        return _error(message.replace("\n", " "), EXIT_USAGE)
    except (KeyboardInterrupt, click.exceptions.Abort, typer.Abort):
        return _error("interrupted", 130)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, without the source location."""
    print(f"warning: {message}", file=sys.stderr)


def _error(message: str, code: int) -> int:
    """One line on stderr, never a traceback."""
    print(f"error: {message}", file=sys.stderr)
    return code


def main() -> None:
    code = run(sys.argv[1:])
    # At exit Python's last collections tear down torch's import-time objects one by one
    # (0.3-0.4 s measured); frozen objects are left for the OS to reclaim.
    gc.freeze()
    sys.exit(code)
