"""likeness_common.bootstrap.bind: each handler gets the dependencies its signature names, by
keyword; a PerCall one (a unit of work) is made anew for every call; the caller passes the rest."""

from __future__ import annotations

import itertools
import sys
import types

from likeness_common.bootstrap import PerCall, bind

SOURCE = '''
async def create(cmd, actor, uow, signer):
    return cmd, actor, uow, signer

def check(cmd, actor, signer=None):
    return signer

async def plain(cmd, actor):
    return cmd

async def _private(uow):
    return uow
'''


def _module() -> types.ModuleType:
    module = types.ModuleType("fake_handlers")
    exec(compile(SOURCE, "fake_handlers", "exec"), module.__dict__)  # noqa: S102 (a fixed test module)
    sys.modules.setdefault("fake_handlers", module)
    return module


async def test_dependencies_are_bound_by_name_and_units_of_work_made_per_call():
    counter = itertools.count(1)
    h = bind(_module(), uow=PerCall(lambda: f"uow-{next(counter)}"), signer="keyring", unused="x")
    assert await h.create("cmd", "actor") == ("cmd", "actor", "uow-1", "keyring")
    assert (await h.create("cmd", "actor"))[2] == "uow-2"  # a fresh unit of work each call
    assert h.check("cmd", "actor") == "keyring"  # sync handlers too
    assert await h.plain("cmd", "actor") == "cmd"  # nothing to bind: the handler itself
    assert not hasattr(h, "_private")
