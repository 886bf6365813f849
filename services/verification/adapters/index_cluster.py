"""Cluster mode of the 1:N index (`index_engine = qdrant`, issue 16): the templates live in a Qdrant
cluster that every verification and enrollment replica shares, so a replica's memory no longer
grows with the number of templates and a new replica serves as soon as it has read one row.

One writer per set of collections. The replicas of a deployment elect it with a Postgres advisory
lock (`pg_try_advisory_lock`, held by a session each replica keeps open; retried at every catch-up).
The writer follows the outbox in commit order exactly as the embedded index does (index.IndexFollower:
reload each talent a change names, idempotent writes keyed by template id) and, after each batch,
records how far it got in `index_writer_state` on the session that holds the lock, so a writer that
lost its session can no longer advance it. The others read: their catch-up reads the outbox head
and the writer's row in one snapshot and is fresh once the writer has applied everything up to that
head; they fail closed (UNAVAILABLE) past the staleness bound like any read model. A writer that
finds no row for its set (a first start, a new key, another cohort or model) recreates the
collections empty and loads every template from Postgres, the sealed source of truth; a writer that
finds one resumes from its cursor (the outbox keeps every row).

A set is named by the rotation key's id and a digest of what makes scores comparable (the models,
the voice cohort): replicas configured differently never read each other's collections.

Rotating the key, with no downtime (`python -m verification.rotate_index_key`): a pending key is
added. At its next catch-up, a replica that can take the pending set's lock builds that set in the
background from Postgres (the sealed source of truth) and follows the outbox into it, while every
replica keeps serving the active set. Once the pending set covers the outbox head, its builder makes
it active and retires the old key in one transaction; every replica switches at its next catch-up,
and the builder drops the old collections once the replicas have had two staleness bounds to switch.
A builder that stops before it drops them leaves them to the next writer elected: every writer, once
it takes over, drops what is left of keys retired two staleness bounds before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field

import asyncpg
import structlog
from qdrant_client import QdrantClient

from likeness_common.crypto import Kek
from likeness_common.errors import FailedPrecondition, Unavailable
from likeness_common.freshness import ChangeFollower, Freshness
from likeness_common.tokens import decode_token

from ..domain.calibration import Bounds
from ..domain.model import Modality
from .index import _OUTBOX_CHANNEL, DIMS, METRICS, LikenessIndex, TemplateLoader, apply_outbox
from .qdrant_index import KeyedRotation, QdrantModalityIndex

log = structlog.get_logger("likeness.verification.index")

_KEYS = "SELECT key_id, wrapped_key, activated_at FROM index_keys WHERE retired_at IS NULL"
_TRY_LOCK = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"  # one writer per collection set (module docstring)
_STATE = "SELECT * FROM index_writer_state WHERE collection_set = $1"
_RETIRED = "SELECT key_id FROM index_keys WHERE retired_at <= now() - make_interval(secs => $1)"


@dataclass(frozen=True)
class RotationKey:
    key_id: str
    key: bytes = field(repr=False)


async def rotation_keys(pool: asyncpg.Pool, kek: Kek) -> tuple[RotationKey, RotationKey | None]:
    """The deployment's active rotation key (made by the first replica that asks) and the pending
    one, if a rotation is under way."""
    rows = await pool.fetch(_KEYS)
    if not any(r["activated_at"] for r in rows):
        key_id = "ixk_" + secrets.token_hex(6)
        await pool.execute("INSERT INTO index_keys (key_id, wrapped_key, activated_at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
                           key_id, kek.wrap(secrets.token_bytes(32), key_id.encode()))  # fmt: skip
        rows = await pool.fetch(_KEYS)
    keys = {r["activated_at"] is not None: RotationKey(r["key_id"], kek.unwrap(r["wrapped_key"], r["key_id"].encode())) for r in rows}
    return keys[True], keys.get(False)


async def start_rotation(pool: asyncpg.Pool, kek: Kek) -> str:
    """Add a pending key (the replicas build its set and switch to it); its id. One at a time."""
    key_id = "ixk_" + secrets.token_hex(6)
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT key_id FROM index_keys WHERE activated_at IS NULL AND retired_at IS NULL"):
            raise FailedPrecondition("a rotation of the index key is already under way", reason="INDEX_ROTATION_PENDING")
        await conn.execute("INSERT INTO index_keys (key_id, wrapped_key) VALUES ($1, $2)", key_id, kek.wrap(secrets.token_bytes(32), key_id.encode()))
    return key_id


def collection_set(prefix: str, key_id: str, index: LikenessIndex) -> str:
    """`<prefix>_<key id>_<digest of models and cohort>`: its collections add `_face`, `_voice`."""
    comparable = {"models": index.models, "voice_cohort": index.voice_norm.name if index.voice_norm else None}
    digest = hashlib.sha256(json.dumps(comparable, sort_keys=True).encode()).hexdigest()[:10]
    return f"{prefix}_{key_id}_{digest}"


class ClusterFollower:
    """The same contract as index.IndexFollower (start, stop, catch_up, reload, changed_since,
    at_least, freshness, cursor), for an index in a shared Qdrant cluster (module docstring)."""

    VIEW = "1:N index"

    def __init__(self, pool: asyncpg.Pool, dsn: str, kek: Kek, loader: TemplateLoader, index: LikenessIndex, client: QdrantClient,
                 prefix: str = "likeness", shards: int = 1, replication_factor: int = 1, int8: bool = False,
                 poll_seconds: float = 1.0, max_staleness_seconds: float = 5.0, hnsw_ef: int = 256) -> None:  # fmt: skip
        self._pool, self._dsn, self._kek, self._loader, self._index = pool, dsn, kek, loader, index
        self._hnsw_ef = hnsw_ef
        self._client, self._prefix, self._shards, self._replication, self._int8 = client, prefix, shards, replication_factor, int8
        self.freshness = Freshness(self.VIEW, max_staleness_seconds)
        self._follower = ChangeFollower(dsn, _OUTBOX_CHANNEL, poll_seconds, self.catch_up, self.freshness)
        self.cursor = 0  # the last outbox id the index holds (the writer's cursor)
        self.consent_revision = 0
        self.key_id, self.set_name = "", ""
        self._session: asyncpg.Connection | None = None  # holds the advisory lock while this replica writes
        self.writing = False
        self._lock = asyncio.Lock()
        self._me = secrets.token_hex(4)  # recorded as the writer in its row (logs name it too)
        self._building: asyncio.Task | None = None  # the pending set's build, when this replica took it
        self._cleanup: asyncio.Task | None = None

    def _engines(self, key: RotationKey, index: LikenessIndex) -> tuple[str, dict[Modality, QdrantModalityIndex]]:
        name = collection_set(self._prefix, key.key_id, index)
        return name, {
            m: QdrantModalityIndex(self._client, f"{name}_{m.value.lower()}", m.value, DIMS[m], METRICS[m],
                                   KeyedRotation(key.key, m.value, DIMS[m]), index.models.get(m.value, ""), self._hnsw_ef)
            for m in (Modality.FACE, Modality.VOICE)
        }  # fmt: skip

    def _attach(self, key: RotationKey) -> None:
        """Serve (and, if elected, write) the set of `key`."""
        self.key_id = key.key_id
        self.set_name, self._index.by_modality = self._engines(key, self._index)

    async def start(self) -> None:
        """Find the rotation key, attach the engines to the set's collections, wait until the index
        is fresh (as the embedded index loads before the server serves), then follow. A reader
        waits for the writer; with no writer, every try also runs for the lock."""
        active, _ = await rotation_keys(self._pool, self._kek)
        self._attach(active)
        while True:
            try:
                await self.catch_up()
                break
            except Unavailable as error:
                log.warning("index not fresh yet; waiting before serving", reason=error.reason, collection_set=self.set_name)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()
        for task in (self._building, self._cleanup):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._session is not None:
            await self._session.close()  # releases the lock: another replica takes over at its next catch-up

    async def catch_up(self) -> None:
        async with self._lock:
            started = self.freshness.started()
            active, pending = await rotation_keys(self._pool, self._kek)
            if active.key_id != self.key_id:
                await self._switch(active)
            if await self._elected():
                await self._write()
            else:
                await self._read()
            self.freshness.caught_up(started)
        if pending is not None and (self._building is None or self._building.done()):
            self._building = asyncio.create_task(self._build(pending), name="index-key-rotation")

    async def _switch(self, active: RotationKey) -> None:
        """The key was rotated: serve the new set. A writer of the old set gives up its lock."""
        old = self.set_name
        if self._session is not None:
            await self._session.close()
        self._session, self.writing = None, False
        self._attach(active)
        log.info("index key rotated: serving the new collection set", old=old, new=self.set_name)

    async def _elected(self) -> bool:
        """Hold, or try to take, the set's advisory lock (a session lost means the lock is lost)."""
        if self._session is None or self._session.is_closed():
            self._session, self.writing = await asyncpg.connect(self._dsn), False
        if not self.writing:
            self.writing = await self._session.fetchval(_TRY_LOCK, self.set_name)
            if self.writing:
                log.info("elected the index writer", collection_set=self.set_name, writer=self._me)
                await self._take_over()
        return self.writing

    async def _take_over(self) -> None:
        if self._cleanup is None or self._cleanup.done():
            self._cleanup = asyncio.create_task(self._drop_retired_later(), name="index-drop-retired-sets")
        row = await self._session.fetchrow(_STATE, self.set_name)
        if row is not None:
            self.cursor, self.consent_revision = row["outbox_cursor"], row["consent_revision"]
            self._index.voice_bounds = Bounds(row["voice_min_a"], row["voice_max_b"])
            return
        log.info("no state for this collection set: loading every template from Postgres", collection_set=self.set_name)
        await self._load_into(self._index, self._loader)
        self.cursor, self.consent_revision = await self._loader.load_all()
        await self._record(self._session, self.set_name, self._index)

    async def _load_into(self, index: LikenessIndex, loader: TemplateLoader) -> None:
        """Empty collections first: stale points (a load that crashed) must not survive."""
        for engine in index.by_modality.values():
            await asyncio.to_thread(self._recreate, engine)
        index.voice_bounds = Bounds()

    def _recreate(self, engine: QdrantModalityIndex) -> None:
        if self._client.collection_exists(engine.collection):
            self._client.delete_collection(engine.collection)
        engine.ensure_collection(self._shards, self._replication, int8=self._int8)

    async def _write(self) -> None:
        self.cursor, self.consent_revision, wrote = await self._apply(self._loader, self.cursor, self.consent_revision)
        if wrote:
            await self._record(self._session, self.set_name, self._index)

    async def _apply(self, loader: TemplateLoader, cursor: int, revision: int) -> tuple[int, int, bool]:
        """index.apply_outbox past `cursor`: the new cursor and revision, and whether either moved."""
        _, last, now = await apply_outbox(self._pool, loader, cursor)
        return last, max(revision, now), last != cursor or now > revision

    async def _record(self, session: asyncpg.Connection, set_name: str, index: LikenessIndex, cursor: int | None = None,
                      revision: int | None = None) -> None:  # fmt: skip
        """On the lock's own session: a writer that lost it fails here instead of moving the cursor."""
        b = index.voice_bounds
        await session.execute(
            "INSERT INTO index_writer_state (collection_set, outbox_cursor, consent_revision, voice_min_a, voice_max_b, writer) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection_set) DO UPDATE SET outbox_cursor = EXCLUDED.outbox_cursor, "
            "consent_revision = EXCLUDED.consent_revision, voice_min_a = EXCLUDED.voice_min_a, voice_max_b = EXCLUDED.voice_max_b, "
            "writer = EXCLUDED.writer, updated_at = clock_timestamp()",
            set_name, self.cursor if cursor is None else cursor, self.consent_revision if revision is None else revision,
            b.min_a, b.max_b, self._me,
        )  # fmt: skip

    async def _read(self, wait_seconds: float | None = None) -> None:
        """Fresh once the writer's row covers the outbox head read in the same snapshot; waits for
        the writer up to `wait_seconds` (default: half the staleness bound), then UNAVAILABLE."""
        deadline = time.monotonic() + (self.freshness.bound / 2 if wait_seconds is None else wait_seconds)
        while True:
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                head = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
                row = await conn.fetchrow(_STATE, self.set_name)
            if row is not None and row["outbox_cursor"] >= head:
                self.cursor, self.consent_revision = row["outbox_cursor"], row["consent_revision"]
                self._index.voice_bounds = Bounds(row["voice_min_a"], row["voice_max_b"])
                return
            if time.monotonic() >= deadline:
                behind = "has not loaded this collection set yet" if row is None else f"is at outbox id {row['outbox_cursor']} of {head}"
                raise Unavailable(f"the index writer {behind}", reason="INDEX_WRITER_BEHIND")
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ key rotation

    async def _build(self, pending: RotationKey) -> None:
        """Build the pending key's set if this replica takes its lock, follow the outbox into it
        until it covers the head, then make it the active set (module docstring)."""
        set_name = collection_set(self._prefix, pending.key_id, self._index)
        session = await asyncpg.connect(self._dsn)
        try:
            if not await session.fetchval(_TRY_LOCK, set_name):
                return  # another replica builds it
            index = LikenessIndex(self._index.models, voice_norm=self._index.voice_norm, voice_norm_review=self._index.voice_norm_review,
                                  engines={})  # fmt: skip
            _, index.by_modality = self._engines(pending, index)
            loader = TemplateLoader(self._pool, self._kek, index)
            log.info("building the pending index key's collection set", collection_set=set_name, writer=self._me)
            started = time.monotonic()
            row = await session.fetchrow(_STATE, set_name)
            if row is None:  # (a builder that died left a row: resume from it)
                await self._load_into(index, loader)
                cursor, revision = await loader.load_all()
            else:
                cursor, revision = row["outbox_cursor"], row["consent_revision"]
                index.voice_bounds = Bounds(row["voice_min_a"], row["voice_max_b"])
            while True:
                cursor, revision, _ = await self._apply(loader, cursor, revision)
                await self._record(session, set_name, index, cursor, revision)
                async with self._pool.acquire() as conn, conn.transaction():
                    if await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox") <= cursor:
                        old = await conn.fetchval("UPDATE index_keys SET retired_at = now(), wrapped_key = NULL "
                                                  "WHERE activated_at IS NOT NULL AND retired_at IS NULL RETURNING key_id")  # fmt: skip
                        await conn.execute("UPDATE index_keys SET activated_at = now() WHERE key_id = $1", pending.key_id)
                        break
                await asyncio.sleep(0.05)
            log.info("index key rotated", retired=old, active=pending.key_id, collection_set=set_name,
                     build_s=round(time.monotonic() - started, 2))  # fmt: skip
            kept, session = session, None  # handed to the follower: it keeps the lock of the set it now writes
            async with self._lock:
                await self._switch(pending)
                self._session, self.writing = kept, True
                self.cursor, self.consent_revision, self._index.voice_bounds = cursor, revision, index.voice_bounds
            if self._cleanup is not None:
                self._cleanup.cancel()
            self._cleanup = asyncio.create_task(self._drop_retired_later(), name="index-drop-retired-sets")
        finally:
            if session is not None:
                await session.close()

    async def _drop_retired_later(self) -> None:
        """Two staleness bounds from now (every replica has had time to switch), the collections
        and writer rows of every key retired at least that long: the set this builder just retired,
        or what a builder that stopped first left behind (scheduled by each newly elected writer)."""
        bound = 2 * self.freshness.bound
        await asyncio.sleep(bound)
        retired = [r["key_id"] for r in await self._pool.fetch(_RETIRED, bound)]
        if not retired:
            return
        names = [c.name for c in (await asyncio.to_thread(self._client.get_collections)).collections]
        for key_id in retired:
            stem = f"{self._prefix}_{key_id}_"  # collection_set(): every configuration's set of this key
            dropped = [n for n in names if n.startswith(stem)]
            for name in dropped:
                await asyncio.to_thread(self._client.delete_collection, name)
            rows = await self._pool.execute("DELETE FROM index_writer_state WHERE starts_with(collection_set, $1)", stem)
            if dropped or rows != "DELETE 0":
                log.info("dropped the retired index key's collections", key_id=key_id, collections=dropped)

    # ------------------------------------------------------------------ the IndexFollower contract

    async def reload(self, talent_id: str) -> None:
        """A Verify found the index behind a talent's templates: the writer reloads it; a reader
        waits until the writer has applied every change committed so far."""
        if self.writing:
            async with self._lock:
                await self._loader.reload(talent_id)
        else:
            await self.catch_up()

    def changed_since(self, cursor: int) -> set[str] | None:
        return None  # not kept in cluster mode: the caller searches the whole index again

    async def at_least(self, token: str) -> None:
        if decode_token(token) > self.consent_revision:
            await asyncio.wait_for(self.catch_up(), self.freshness.bound)
        self.freshness.require()
