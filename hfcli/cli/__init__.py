"""`hf` / `hfcli`: the command line. Parses and prints; the maths and the checks live in the core.

Every error a user can cause is one line on stderr and a non-zero exit. `--json` prints one
JSON object as the last line of stdout; progress bars go to stderr. Any first word that is
not ours (download, auth, cache, upload, ...) is handed to huggingface_hub's own `hf`.
Commands: train.py (teach, distill, finetune), make.py (generate, interpolate, export,
render), measure.py (eval, studio), serve.py (serve); their options come from hfcli/config.py
(options.py).
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
import warnings

import typer

from ..errors import HfcliError
from . import make, measure, serve, train  # noqa: F401  (registers the commands)
from .common import app, stderr

OUR_COMMANDS = (
    "teach",
    "distill",
    "generate",
    "finetune",
    "interpolate",
    "export",
    "render",
    "eval",
    "studio",
    "serve",
)
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
    received: list[int] = []
    previous = _catch_stop_signals(received)
    try:
        result = app(args=argv, prog_name="hf", standalone_mode=False)
        code = int(result) if isinstance(result, int) else 0
        if received and code == 130:  # Typer turns an uncaught KeyboardInterrupt into a silent exit 130
            return _stopped_error(received[0])
        return code
    except HfcliError as err:
        return _error(str(err), getattr(err, "exit_code", EXIT_ERROR))
    except usage_errors as err:
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        return _error(message.replace("\n", " "), EXIT_USAGE)
    except _Stopped as stop:
        return _stopped_error(stop.signum)
    except (KeyboardInterrupt, click.exceptions.Abort, typer.Abort):
        return _error("interrupted", 130)
    except OSError as err:  # disk full, permission, read-only file system, wherever it happens
        where = f"{err.filename}: " if err.filename else ""
        return _error(f"{where}{err.strerror or err}", EXIT_ERROR)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM outside training: a KeyboardInterrupt, so a command that stops cleanly on
    Ctrl-C (hf serve) does so on either, and `except Exception` clauses let it pass."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _catch_stop_signals(received: list[int]) -> dict:
    """SIGINT and SIGTERM raise _Stopped, noted in `received` (temporary files are removed on the
    way out); the trainer sets its own while it trains (hfcli/train/loop.py). Returns the
    handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {s: signal.getsignal(s) or signal.SIG_DFL for s in (signal.SIGINT, signal.SIGTERM)}

    def stop(signum, _frame):
        received.append(signum)
        raise _Stopped(signum)

    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, stop)
    return previous


def _stopped_error(signum: int) -> int:
    return _error("interrupted" if signum == signal.SIGINT else "terminated", 128 + signum)


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
