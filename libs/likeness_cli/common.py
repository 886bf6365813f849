"""Options and error handling every `likeness` command shares."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer

from .client import CliError
from .output import err_console

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object per result.")]
Target = Annotated[str | None, typer.Option("--target", help="host:port (default: LIKENESS_TARGET or .likeness/dev.json).")]
Keys = Annotated[Path | None, typer.Option(help="Key file from `likeness keys export` (offline); default: ask the service.")]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key (default: LIKENESS_API_KEY or the dev operator key).")]

F = TypeVar("F", bound=Callable[..., Any])


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


def write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror}") from None


def command(func: F) -> F:
    """Turn gRPC and CLI errors into a readable message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except grpc.RpcError as error:
            fail(CliError.from_rpc(error), as_json)
        except CliError as error:
            fail(error, as_json)

    return wrapper  # type: ignore[return-value]


def fail(error: CliError, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(error.as_dict()) + "\n")
    else:
        code = f"{error.code}: " if error.code else ""
        reason = f" [{error.reason}]" if error.reason and error.reason != error.code else ""
        err_console.print(f"[red]error[/red]: {code}{error.message}{reason}")
    raise typer.Exit(1)


def paged(call: Callable[[str], Any], field: str) -> Iterator[Any]:
    token = ""
    while True:
        resp = call(token)
        yield from getattr(resp, field)
        token = resp.next_page_token
        if not token:
            return
