"""KEK rotation re-wraps data keys and signing keys, never templates (inside a transaction that is
rolled back, so the rest of the session keeps its KEK)."""

from __future__ import annotations

import base64
import os

import numpy as np
import pytest

from likeness_common.crypto import Kek, load_kek
from likeness_common.errors import FailedPrecondition
from likeness_common.ids import new_id
from likeness_common.rotate_kek import WRAPPED, rewrap
from likeness_common.signing import SigningKeyring
from likeness_common.templates import TemplateVault, open_sealed


class _Rollback(Exception):
    pass


async def test_rotation_rewraps_every_secret_and_leaves_templates_alone(stack, pool):
    old = load_kek(None, stack.kek_file)
    await SigningKeyring(pool, old).ensure_key()
    talent = new_id("tal")
    new = Kek(os.urandom(32), previous=(old,))
    async with pool.acquire() as conn:
        with pytest.raises(_Rollback):
            async with conn.transaction():
                await TemplateVault(conn, old).add(new_id("tpl"), talent, None, "FACE", "centroid", "m", "1",
                                                   np.arange(128, dtype=np.float32), await conn.fetchval("SELECT now()"))  # fmt: skip
                # An index rotation key (cluster mode) as a replica wraps it; retired here only to stay clear
                # of the one-active, one-pending constraints whatever earlier tests left.
                index_key = "ixk_" + os.urandom(6).hex()
                await conn.execute("INSERT INTO index_keys (key_id, wrapped_key, retired_at) VALUES ($1, $2, now())",
                                   index_key, old.wrap(os.urandom(32), index_key.encode()))  # fmt: skip
                sealed_before = await conn.fetch("SELECT template_id, sealed FROM templates ORDER BY template_id")
                counts = await rewrap(conn, new)
                assert counts["talent_data_keys"] >= 1 and counts["signing_keys"] >= 1 and counts["index_keys"] >= 1
                assert await rewrap(conn, new) == {"talent_data_keys": 0, "signing_keys": 0, "index_keys": 0}  # idempotent
                alone = Kek(new.key)
                for table, (id_column, column) in WRAPPED.items():
                    for row in await conn.fetch(f"SELECT {id_column} AS id, {column} AS blob FROM {table} WHERE {column} IS NOT NULL"):
                        alone.unwrap(row["blob"], row["id"].encode())  # the new key alone opens everything
                        with pytest.raises(FailedPrecondition):
                            Kek(old.key).unwrap(row["blob"], row["id"].encode())
                assert await conn.fetch("SELECT template_id, sealed FROM templates ORDER BY template_id") == sealed_before
                dek = alone.unwrap(await conn.fetchval("SELECT wrapped_key FROM talent_data_keys WHERE talent_id = $1", talent), talent.encode())
                row = await conn.fetchrow("SELECT template_id, sealed FROM templates WHERE talent_id = $1", talent)
                assert np.array_equal(open_sealed(dek, row["sealed"], row["template_id"]), np.arange(128, dtype=np.float32))
                raise _Rollback


def test_previous_kek_file_is_accepted_for_unwrapping(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text(base64.b64encode(os.urandom(32)).decode())
    new.write_text(base64.b64encode(os.urandom(32)).decode())
    blob = load_kek(None, old).wrap(b"secret", b"row-1")
    rotating = load_kek(None, new, old)
    assert rotating.unwrap(blob, b"row-1") == b"secret" and not rotating.wrapped_by_current(blob)
    with pytest.raises(FailedPrecondition):
        load_kek(None, new).unwrap(blob, b"row-1")
