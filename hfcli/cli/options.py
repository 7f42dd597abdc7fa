"""Command-line options declared from the config dataclasses (hfcli/config.py).

`@config_options(TeachConfig)` gives a command one option per `option(...)` field its config
reaches, with that field's default and help, and hands the command the filled config as `cfg`.
The CLI checks nothing of its own there: the core validates the config.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import typer

from ..config import flag_of, options_of


def _declare(f: dataclasses.Field, default: Any) -> Any:
    meta = f.metadata["option"]
    return typer.Option(default, meta["flag"] or flag_of(f), help=meta["help"])


def config_options(cfg_type: type) -> Callable[[Callable], Callable]:
    """Decorate a command whose parameter `cfg` is a `cfg_type`: its options replace `cfg` in
    the command's signature, in the order the config declares them."""

    def decorate(command: Callable) -> Callable:
        defaults = cfg_type()
        hints = typing.get_type_hints(command)
        declared: list[tuple[str, tuple[str, ...]]] = []  # (parameter name, path in the config)
        params: list[inspect.Parameter] = []
        for path, f in options_of(cfg_type):
            owner = defaults
            for name in path[:-1]:
                owner = getattr(owner, name)
            hint = typing.get_type_hints(type(owner))[f.name]
            name = "__".join(path)
            params.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, default=_declare(f, getattr(owner, f.name)), annotation=hint
                )
            )
            declared.append((name, path))
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(command).parameters.values()
        ]
        at = next(i for i, p in enumerate(own) if p.name == "cfg")
        signature = inspect.Signature(own[:at] + params + own[at + 1 :])

        @functools.wraps(command)
        def wrapper(**kwargs):
            cfg = cfg_type()
            for name, path in declared:
                owner = cfg
                for part in path[:-1]:
                    owner = getattr(owner, part)
                setattr(owner, path[-1], kwargs.pop(name))
            return command(cfg=cfg, **kwargs)

        wrapper.__signature__ = signature
        wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        del wrapper.__wrapped__  # Typer must read the signature above, not the command's own
        return wrapper

    return decorate
