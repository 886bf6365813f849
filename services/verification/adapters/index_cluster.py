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
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time

import asyncpg
import structlog
from qdrant_client import QdrantClient

from likeness_common.crypto import Kek
from likeness_common.errors import Unavailable
from likeness_common.freshness import ChangeFollower, Freshness
from likeness_common.tokens import decode_token

from ..domain.calibration import Bounds
from ..domain.model import Modality
from .index import _CHANGES_TEMPLATES, _CONSENT_REVISION, _OUTBOX_CHANNEL, DIMS, METRICS, LikenessIndex, TemplateLoader
from .qdrant_index import KeyedRotation, QdrantModalityIndex

log = structlog.get_logger("likeness.verification.index")

_ACTIVE_KEY = "SELECT key_id, wrapped_key FROM index_keys WHERE retired_at IS NULL"


async def active_rotation_key(pool: asyncpg.Pool, kek: Kek) -> tuple[str, bytes]:
    """The deployment's rotation key (key id, 32 bytes): made by the first replica that asks."""
    row = await pool.fetchrow(_ACTIVE_KEY)
    if row is None:
        key_id = "ixk_" + secrets.token_hex(6)
        await pool.execute("INSERT INTO index_keys (key_id, wrapped_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           key_id, kek.wrap(secrets.token_bytes(32), key_id.encode()))  # fmt: skip
        row = await pool.fetchrow(_ACTIVE_KEY)
    return row["key_id"], kek.unwrap(row["wrapped_key"], row["key_id"].encode())


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
                 prefix: str = "likeness", shards: int = 1, replication_factor: int = 1, poll_seconds: float = 1.0,
                 max_staleness_seconds: float = 5.0) -> None:  # fmt: skip
        self._pool, self._dsn, self._kek, self._loader, self._index = pool, dsn, kek, loader, index
        self._client, self._prefix, self._shards, self._replication = client, prefix, shards, replication_factor
        self.freshness = Freshness(self.VIEW, max_staleness_seconds)
        self._follower = ChangeFollower(dsn, _OUTBOX_CHANNEL, poll_seconds, self.catch_up, self.freshness)
        self.cursor = 0  # the last outbox id the index holds (the writer's cursor)
        self.consent_revision = 0
        self.set_name = ""
        self._session: asyncpg.Connection | None = None  # holds the advisory lock while this replica writes
        self.writing = False
        self._lock = asyncio.Lock()
        self._me = f"{secrets.token_hex(4)}"  # recorded as the writer in its row (logs name it too)

    async def start(self) -> None:
        """Find the rotation key, attach the engines to the set's collections, then follow."""
        key_id, key = await active_rotation_key(self._pool, self._kek)
        self.set_name = collection_set(self._prefix, key_id, self._index)
        self._index.by_modality = {
            m: QdrantModalityIndex(self._client, f"{self.set_name}_{m.value.lower()}", m.value, DIMS[m], METRICS[m],
                                   KeyedRotation(key, m.value, DIMS[m]), self._index.models.get(m.value, ""))
            for m in (Modality.FACE, Modality.VOICE)
        }  # fmt: skip
        try:
            await self.catch_up()
        except Unavailable as error:  # a reader whose writer is still loading: serve UNAVAILABLE until it is done
            log.warning("index not ready yet; following", reason=error.reason, collection_set=self.set_name)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()
        if self._session is not None:
            await self._session.close()  # releases the lock: another replica takes over at its next catch-up

    async def catch_up(self) -> None:
        async with self._lock:
            started = self.freshness.started()
            if await self._elected():
                await self._write()
            else:
                await self._read()
            self.freshness.caught_up(started)

    async def _elected(self) -> bool:
        """Hold, or try to take, the set's advisory lock (a session lost means the lock is lost)."""
        if self._session is None or self._session.is_closed():
            self._session, self.writing = await asyncpg.connect(self._dsn), False
        if not self.writing:
            self.writing = await self._session.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", self.set_name)
            if self.writing:
                log.info("elected the index writer", collection_set=self.set_name, writer=self._me)
                await self._take_over()
        return self.writing

    async def _take_over(self) -> None:
        row = await self._session.fetchrow("SELECT * FROM index_writer_state WHERE collection_set = $1", self.set_name)
        if row is not None:
            self.cursor, self.consent_revision = row["outbox_cursor"], row["consent_revision"]
            self._index.voice_bounds = Bounds(row["voice_min_a"], row["voice_max_b"])
            return
        log.info("no state for this collection set: loading every template from Postgres", collection_set=self.set_name)
        engines = list(self._index.by_modality.values())
        for engine in engines:  # stale points (a load that crashed) must not survive: start empty
            await asyncio.to_thread(self._recreate, engine)
        self._index.voice_bounds = Bounds()
        self.cursor, self.consent_revision = await self._loader.load_all()
        await self._record()

    def _recreate(self, engine: QdrantModalityIndex) -> None:
        if self._client.collection_exists(engine.collection):
            self._client.delete_collection(engine.collection)
        engine.ensure_collection(self._shards, self._replication)

    async def _write(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch("SELECT id, message_key, event_type FROM outbox WHERE id > $1 ORDER BY id", self.cursor)
            revision = await conn.fetchval(_CONSENT_REVISION)
        changed = [r["message_key"] for r in rows if r["event_type"] in _CHANGES_TEMPLATES and r["message_key"]]
        for talent_id in dict.fromkeys(changed):  # idempotent: a writer that dies here is repeated by the next
            await self._loader.reload(talent_id)
        if rows or revision > self.consent_revision:
            self.cursor = rows[-1]["id"] if rows else self.cursor
            self.consent_revision = max(self.consent_revision, revision)
            await self._record()

    async def _record(self) -> None:
        """On the lock's own session: a writer that lost it fails here instead of moving the cursor."""
        b = self._index.voice_bounds
        await self._session.execute(
            "INSERT INTO index_writer_state (collection_set, outbox_cursor, consent_revision, voice_min_a, voice_max_b, writer) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection_set) DO UPDATE SET outbox_cursor = EXCLUDED.outbox_cursor, "
            "consent_revision = EXCLUDED.consent_revision, voice_min_a = EXCLUDED.voice_min_a, voice_max_b = EXCLUDED.voice_max_b, "
            "writer = EXCLUDED.writer, updated_at = clock_timestamp()",
            self.set_name, self.cursor, self.consent_revision, b.min_a, b.max_b, self._me,
        )  # fmt: skip

    async def _read(self, wait_seconds: float | None = None) -> None:
        """Fresh once the writer's row covers the outbox head read in the same snapshot; waits for
        the writer up to `wait_seconds` (default: half the staleness bound), then UNAVAILABLE."""
        deadline = time.monotonic() + (self.freshness.bound / 2 if wait_seconds is None else wait_seconds)
        while True:
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                head = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
                row = await conn.fetchrow("SELECT * FROM index_writer_state WHERE collection_set = $1", self.set_name)
            if row is not None and row["outbox_cursor"] >= head:
                self.cursor, self.consent_revision = row["outbox_cursor"], row["consent_revision"]
                self._index.voice_bounds = Bounds(row["voice_min_a"], row["voice_max_b"])
                return
            if time.monotonic() >= deadline:
                behind = "has not loaded this collection set yet" if row is None else f"is at outbox id {row['outbox_cursor']} of {head}"
                raise Unavailable(f"the index writer {behind}", reason="INDEX_WRITER_BEHIND")
            await asyncio.sleep(0.05)

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
