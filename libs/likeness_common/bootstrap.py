"""Handlers with their dependencies bound once, at bootstrap (cosmicpython's `bootstrap`, which
injects dependencies with functools.partial): a servicer then passes only what the caller sent and
who the caller is, and a handler's signature still names everything it uses (unit tests call it
with fakes directly).

    h = bind(handlers, uow=PerCall(lambda: PostgresUnitOfWork(pool)), signer=keyring)
    await h.create_grant(cmd, current_principal())   # == handlers.create_grant(cmd, actor, uow=..., signer=keyring)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any


@dataclass(frozen=True)
class PerCall:
    """A dependency made anew for every call: a unit of work (one transaction per use case)."""

    factory: Callable[[], Any]


def bind(module: ModuleType, **deps: Any) -> SimpleNamespace:
    """Every public function defined in `module`, with the `deps` its signature names bound by
    keyword (a PerCall one built per call); the caller passes the rest."""
    functions = {name: fn for name, fn in vars(module).items()
                 if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == module.__name__}  # fmt: skip
    return SimpleNamespace(**{name: inject(fn, deps) for name, fn in functions.items()})


def inject(fn: Callable, deps: dict[str, Any]) -> Callable:
    wanted = {name: value for name, value in deps.items() if name in inspect.signature(fn).parameters}
    if not wanted:
        return fn

    def resolved() -> dict[str, Any]:
        return {name: value.factory() if isinstance(value, PerCall) else value for name, value in wanted.items()}

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def bound_async(*args: Any, **kwargs: Any) -> Any:
            return await fn(*args, **resolved(), **kwargs)

        return bound_async

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **resolved(), **kwargs)

    return bound
