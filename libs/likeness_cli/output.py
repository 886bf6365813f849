"""Printing results: one JSON object per result with --json, readable text otherwise."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


def to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        sys.stdout.flush()
    else:
        console.print(human if human is not None else "\n".join(f"{k}: {v}" for k, v in result.items()))


@contextlib.contextmanager
def progress(label: str, quiet: bool) -> Iterator[None]:
    """A spinner with elapsed time on stderr while a long call runs (none with --json)."""
    with Progress(SpinnerColumn(), TextColumn(label), TimeElapsedColumn(), console=err_console, disable=quiet, transient=True) as bar:
        bar.add_task("work", total=None)
        yield
