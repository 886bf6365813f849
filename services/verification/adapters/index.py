"""The 1:N index as the service runs it: loaded from Postgres at start (templates decrypted with
each talent's data key), kept current from Postgres commit order, searched in a worker thread so a
big scan never blocks the event loop.

Following (`IndexFollower`): every enrollment change writes an outbox row in the transaction that
changes the templates (FaceEnrolled, VoiceEnrolled, BiometricsErased, keyed by talent), and outbox
ids follow commit order (the outbox write lock). The follower reads the rows past its cursor and
reloads each talent they name: NOTIFY from the committing writer wakes it at once, a poll every
`poll_seconds` is the fallback. Kafka is not on this path: the index stays current while the broker
is down. The start-up load reads the templates and the cursor in one snapshot, so nothing is missed
or replayed.

Failing closed: past `max_staleness_seconds` without a successful catch-up, searches are refused
with UNAVAILABLE (a Verify fails; it never answers NO_MATCH for a talent enrolled meanwhile or
matches one erased meanwhile). A Verify whose consistency token names a consent revision newer
than the index's last catch-up makes it catch up first.

Deciding only on live templates (`IndexSearcher`): the talents a search hits are checked against
the templates Postgres holds now; a talent whose templates changed since the index loaded them
(an erasure, a retention sweep, a new enrollment not yet followed) is reloaded and the search run
again before anything is decided.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import asyncpg
import numpy as np
import structlog

from likeness_common.crypto import Kek
from likeness_common.errors import Unavailable
from likeness_common.freshness import ChangeFollower, Freshness
from likeness_common.templates import open_sealed
from likeness_common.tokens import decode_token

from ..domain.calibration import Bounds, CohortNorm, cohort_name
from ..domain.model import Modality, Probe, ProbeHit
from .vector_index import Hit, Metric, ModalityIndex

log = structlog.get_logger("likeness.verification.index")

DIMS = {Modality.FACE: 128, Modality.VOICE: 256}
METRICS = {Modality.FACE: Metric.EUCLIDEAN, Modality.VOICE: Metric.COSINE}
# Outbox event types that change a talent's templates (the `event_type` column: the payload's name).
_CHANGES_TEMPLATES = ["FaceEnrolled", "VoiceEnrolled", "BiometricsErased"]
_OUTBOX_CHANNEL = "likeness_outbox"  # NOTIFYed by every outbox writer (likeness_common.outbox)
# The newest consent revision in the same snapshot: what "the index is at least as fresh as a token" means.
_CONSENT_REVISION = "SELECT coalesce(max(revision), 0) FROM grants"


def load_cohort(path: Path) -> CohortNorm:
    """A voice cohort file (`likeness cohort build`): a .npy (n, 256) float32 array. Named by its
    content hash, which receipts record ("VOICE_COHORT"). A file that is named but missing is a
    misconfiguration: the service refuses to start rather than silently judge raw cosine."""
    if not path.is_file():
        raise FileNotFoundError(f"LIKENESS_VERIFICATION_VOICE_COHORT_FILE={path}: no such file (build one with `likeness cohort build`, "
                                "mount it there, or unset the variable for raw cosine thresholds)")  # fmt: skip
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2 or array.shape[1] != DIMS[Modality.VOICE]:
        raise ValueError(f"{path}: a voice cohort is an (n, {DIMS[Modality.VOICE]}) array, got {array.shape}")
    return CohortNorm(array, cohort_name(array))


class ModalityEngine(Protocol):
    """One modality's templates, searched 1:N: `vector_index.ModalityIndex` (embedded: in this
    process's memory) or `qdrant_index.QdrantModalityIndex` (a Qdrant cluster every replica shares).
    Synchronous: called from worker threads."""

    dim: int
    approximate: bool

    def replace(self, talent_id: str, vectors: list[np.ndarray], template_ids: Sequence[str] = (),
                ab: tuple[float, float] | None = None) -> None: ...  # fmt: skip
    def begin_bulk(self) -> None: ...
    def end_bulk(self) -> None: ...
    @property
    def templates(self) -> int: ...
    def has(self, talent_id: str) -> bool: ...
    def template_ids(self, talent_ids: Iterable[str]) -> dict[str, frozenset[str]]: ...
    def vectors_of(self, talent_id: str) -> np.ndarray: ...
    def ab_of(self, talent_id: str) -> tuple[float, float] | None: ...
    def search(self, probes: np.ndarray, bound: float) -> list[Hit]: ...
    def search_normalized(self, probes: np.ndarray, probe_ab: np.ndarray, at_least: float, floor: float) -> list[Hit]: ...


# IVF cells probed per search (the service's face_nprobe / voice_nprobe defaults): bench/engines
# --nprobe-sweep --population-rule at 1M (README, Index engines): recall@1 1.000 on face-like,
# voice-like and isotropic sets at the raised floors; with float16 rows, p99 0.71 ms face, 1.33 ms voice.
DEFAULT_NPROBE = {Modality.FACE: 64, Modality.VOICE: 32}


def embedded_engines(ivf_min_rows: int = 200_000, nprobe: dict[Modality, int] | None = None) -> dict[Modality, ModalityEngine]:
    nprobe = nprobe or DEFAULT_NPROBE
    return {m: ModalityIndex(DIMS[m], METRICS[m], ivf_min_rows=ivf_min_rows, nprobe=nprobe[m]) for m in (Modality.FACE, Modality.VOICE)}


class LikenessIndex:
    """Both modalities, each in its engine; scores are "higher is closer" (face: 1 - distance,
    voice: cosine). Writes go through `replace`/`upsert`/`remove` (one writer at a time, off the
    loop); the engine keeps which stored templates a talent's rows came from."""

    def __init__(self, models: dict[str, str], ivf_min_rows: int = 200_000, nprobe: dict[Modality, int] | None = None,
                 voice_norm: CohortNorm | None = None, voice_norm_review: float | None = None,
                 engines: dict[Modality, ModalityEngine] | None = None) -> None:  # fmt: skip
        """`voice_norm`: a speaker's-mean voice probe (not a single window) is scored by its S-norm
        against this cohort (domain.calibration), and hits below `voice_norm_review` are dropped.
        `engines`: where the templates live (default: embedded, `ivf_min_rows` and `nprobe` apply)."""
        self.models = models  # modality -> "name/version": only comparable templates are loaded
        if (voice_norm is None) != (voice_norm_review is None):
            raise ValueError("voice normalization needs both a cohort and its review threshold")
        self.voice_norm, self.voice_norm_review = voice_norm, voice_norm_review
        # The extremes of every indexed talent's S-norm constants: the raw floor of a normalized
        # search. Widened by every write; in cluster mode a reader takes the writer's (ClusterFollower).
        self.voice_bounds = Bounds()
        self.by_modality = engines if engines is not None else embedded_engines(ivf_min_rows, nprobe)
        self._write_lock = asyncio.Lock()

    def replace(self, talent_id: str, vectors: dict[Modality, list[np.ndarray]], template_ids: dict[Modality, list[str]] | None = None) -> None:
        """Synchronous (the start-up load, and `upsert` in a thread). `template_ids`: the stored
        template of each vector, per modality (a cluster engine needs them; tests and benches may
        leave them out)."""
        for modality, engine in self.by_modality.items():
            mine = vectors.get(modality, [])
            ab = None
            if modality is Modality.VOICE and self.voice_norm is not None and mine:
                stats = self.voice_norm.stats(np.stack(mine))
                self.voice_bounds.include(stats)  # before the rows: a search that finds them floors low enough
                ab = (stats.a, stats.b)
            engine.replace(talent_id, mine, (template_ids or {}).get(modality, ()), ab)

    async def upsert(self, talent_id: str, vectors: dict[Modality, list[np.ndarray]], template_ids: dict[Modality, list[str]]) -> None:
        """The talent's templates become exactly these. In a thread (growing or compacting a large
        index copies hundreds of MB, a cluster write is a network call; searches meanwhile read their snapshot)."""
        async with self._write_lock:
            await asyncio.to_thread(self.replace, talent_id, vectors, template_ids)

    async def remove(self, talent_id: str) -> None:
        await self.upsert(talent_id, {}, {})

    def template_ids(self, talent_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """The stored templates each talent's indexed rows came from, both modalities together."""
        talent_ids = set(talent_ids)
        out: dict[str, frozenset[str]] = {t: frozenset() for t in talent_ids}
        for engine in self.by_modality.values():
            for talent_id, ids in engine.template_ids(talent_ids).items():
                out[talent_id] |= ids
        return out

    def best_scores(self, modality: Modality, vectors: np.ndarray, talent_ids: set[str]) -> dict[str, float]:
        """Each talent's best score against `vectors`, computed directly (no search): for a handful
        of talent, e.g. those changed since a search."""
        engine = self.by_modality[modality]
        out: dict[str, float] = {}
        for talent_id in talent_ids:
            theirs = engine.vectors_of(talent_id)
            if len(theirs):
                if modality is Modality.FACE:
                    out[talent_id] = float(1.0 - np.linalg.norm(vectors[:, None, :] - theirs[None, :, :], axis=2).min())
                elif self.normalizes(modality):
                    talent = engine.ab_of(talent_id)
                    raw = (vectors @ theirs.T).max(axis=1)
                    out[talent_id] = max(CohortNorm.normalize_ab(float(r), talent, (s.a, s.b))
                                         for r, s in zip(raw, map(self.voice_norm.stats, vectors), strict=True))  # fmt: skip
                else:
                    out[talent_id] = float((vectors @ theirs.T).max())
        return out

    def normalizes(self, modality: Modality) -> bool:
        """Are this modality's (non-window) scores normalized (and so judged in z units)?"""
        return modality is Modality.VOICE and self.voice_norm is not None

    def contains(self, talent_id: str, modality: Modality) -> bool:
        return self.by_modality[modality].has(talent_id)

    def population(self) -> dict[Modality, int]:
        """Templates per modality (what the thresholds rise with; in cluster mode, a call to Qdrant)."""
        return {m: i.templates for m, i in self.by_modality.items()}

    def sizes(self) -> dict[str, int]:
        return {m.value: n for m, n in self.population().items()}

    def search_sync(self, probes: list[Probe], floor: dict[Modality, float], norm_review: float | None = None) -> list[ProbeHit]:
        """`norm_review`: the normalized (z) floor of speakers' means (default: the index's own)."""
        hits: list[ProbeHit] = []
        for modality, index in self.by_modality.items():
            mine = [p for p in probes if p.modality is modality]
            if not mine:
                continue
            if self.normalizes(modality):
                hits += self._search_normalized(index, [p for p in mine if not p.window], self.voice_norm_review if norm_review is None else norm_review)
                mine = [p for p in mine if p.window]  # single windows keep their raw rule
                if not mine:
                    continue
            matrix = np.stack([np.asarray(p.vector, np.float32) for p in mine])
            if modality is Modality.FACE:
                for h in index.search(matrix, 1.0 - floor[modality]):
                    hits.append(ProbeHit(mine[h.probe], h.talent_id, 1.0 - h.value))
            else:
                for h in index.search(matrix, floor[modality]):
                    hits.append(ProbeHit(mine[h.probe], h.talent_id, h.value))
        return hits

    def _search_normalized(self, index: ModalityEngine, probes: list[Probe], z_review: float) -> list[ProbeHit]:
        """Speakers' means scored by S-norm: the raw search floor is, per probe, the lowest cosine
        at which any indexed talent could reach the review z (calibration.Bounds), so normalization
        never hides a talent that a lower raw score would have shown."""
        if not probes:
            return []
        norm = self.voice_norm
        matrix = np.stack([np.asarray(p.vector, np.float32) for p in probes])
        stats = [norm.stats(v) for v in matrix]
        floor = min(self.voice_bounds.floor(z_review, s) for s in stats)
        found = index.search_normalized(matrix, np.asarray([(s.a, s.b) for s in stats], np.float64), z_review, floor)
        return [ProbeHit(probes[h.probe], h.talent_id, h.value, raw_score=h.raw) for h in found]

    async def search(self, probes: list[Probe], floor: dict[Modality, float], norm_review: float | None = None) -> list[ProbeHit]:
        return await asyncio.to_thread(self.search_sync, probes, floor, norm_review)


Templates = dict[Modality, tuple[list[np.ndarray], list[str]]]  # a talent's vectors and their template ids


def _split(templates: Templates) -> tuple[dict[Modality, list[np.ndarray]], dict[Modality, list[str]]]:
    return {m: v for m, (v, _) in templates.items()}, {m: ids for m, (_, ids) in templates.items()}


class TemplateLoader:
    """Reads and decrypts templates from Postgres into the index."""

    def __init__(self, pool: asyncpg.Pool, kek: Kek, index: LikenessIndex) -> None:
        self._pool, self._kek, self._index = pool, kek, index

    def _comparable(self, row: asyncpg.Record) -> bool:
        return self._index.models.get(row["modality"]) == f"{row['model_name']}/{row['model_version']}"

    def _open_into(self, row: asyncpg.Record, dek: bytes, templates: Templates) -> bool:
        """Decrypt a template row into `templates` when it is comparable; True if it was."""
        if not self._comparable(row):
            return False
        vectors, ids = templates.setdefault(Modality(row["modality"]), ([], []))
        vectors.append(open_sealed(dek, row["sealed"], row["template_id"]))
        ids.append(row["template_id"])
        return True

    async def load_all(self, batch: int = 5000) -> tuple[int, int]:
        """Every talent's sample templates, and in the same snapshot the outbox cursor and consent
        revision the follower starts from. Returns (cursor, consent revision)."""
        for index in self._index.by_modality.values():
            index.begin_bulk()
        try:
            loaded, cursor, revision = await self._load_all(batch)
        finally:  # train the IVF (past ivf_min_rows) once, off the loop
            for index in self._index.by_modality.values():
                await asyncio.to_thread(index.end_bulk)
        log.info("index loaded", templates=loaded, sizes=self._index.sizes(), outbox_cursor=cursor)
        return cursor, revision

    async def _load_all(self, batch: int) -> tuple[int, int, int]:
        loaded, done = 0, []  # done: talents read, written to the index a batch at a time off the loop
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
            revision = await conn.fetchval(_CONSENT_REVISION)
            keys = {r["talent_id"]: r["wrapped_key"] for r in await conn.fetch("SELECT talent_id, wrapped_key FROM talent_data_keys")}
            talent, dek, templates = None, b"", {}
            rows = conn.cursor(
                "SELECT template_id, talent_id, modality, model_name, model_version, sealed FROM templates "
                "WHERE kind = 'sample' ORDER BY talent_id, template_id",
                prefetch=batch,
            )
            async for row in rows:
                if row["talent_id"] != talent:
                    if talent is not None:
                        done.append((talent, templates))
                        if len(done) >= 256:
                            await asyncio.to_thread(self._write, done)
                            done = []
                    talent, templates = row["talent_id"], {}
                    wrapped = keys.get(talent)
                    dek = self._kek.unwrap(wrapped, talent.encode()) if wrapped else b""
                if dek and self._open_into(row, dek, templates):
                    loaded += 1
            if talent is not None:
                done.append((talent, templates))
            await asyncio.to_thread(self._write, done)
        return loaded, cursor, revision

    def _write(self, talents: list[tuple[str, Templates]]) -> None:
        for talent_id, templates in talents:
            self._index.replace(talent_id, *_split(templates))

    async def reload(self, talent_id: str) -> None:
        """The talent's templates as Postgres holds them now (none: removed from the index)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            wrapped = await conn.fetchval("SELECT wrapped_key FROM talent_data_keys WHERE talent_id = $1", talent_id)
            rows = await conn.fetch(
                "SELECT template_id, modality, model_name, model_version, sealed FROM templates "
                "WHERE talent_id = $1 AND kind = 'sample' ORDER BY template_id",
                talent_id,
            )
        templates: Templates = {}
        if wrapped is not None:
            dek = self._kek.unwrap(wrapped, talent_id.encode())
            for row in rows:
                self._open_into(row, dek, templates)
        if templates:
            await self._index.upsert(talent_id, *_split(templates))
        else:
            await self._index.remove(talent_id)
        log.info("talent reloaded", talent_id=talent_id, templates={m.value: len(v) for m, (v, _) in templates.items()})

    async def live_template_ids(self, talent_ids: set[str]) -> dict[str, frozenset[str]]:
        """The comparable sample templates each talent has now; a talent whose data key is shredded has none."""
        rows = await self._pool.fetch(
            "SELECT t.talent_id, t.template_id, t.modality, t.model_name, t.model_version FROM templates t "
            "JOIN talent_data_keys k USING (talent_id) WHERE t.talent_id = ANY($1::text[]) AND t.kind = 'sample'",
            list(talent_ids),
        )
        live: dict[str, set[str]] = {}
        for row in rows:
            if self._comparable(row):
                live.setdefault(row["talent_id"], set()).add(row["template_id"])
        return {t: frozenset(ids) for t, ids in live.items()}


async def apply_outbox(pool: asyncpg.Pool, loader: TemplateLoader, cursor: int) -> tuple[list[tuple[int, str]], int, int]:
    """Reload every talent whose templates the outbox says changed past `cursor`, in commit order.
    Returns the changes applied (outbox id, talent), the last outbox id read (`cursor` when none)
    and the consent revision, both from the same snapshot. Reloads are idempotent: a follower that
    dies midway repeats them."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch("SELECT id, message_key, event_type FROM outbox WHERE id > $1 ORDER BY id", cursor)
        revision = await conn.fetchval(_CONSENT_REVISION)
    changed = [(r["id"], r["message_key"]) for r in rows if r["event_type"] in _CHANGES_TEMPLATES and r["message_key"]]
    for talent_id in dict.fromkeys(t for _, t in changed):
        await loader.reload(talent_id)
    return changed, rows[-1]["id"] if rows else cursor, revision


class IndexFollower:
    """Keeps the index current from the outbox, in commit order (see the module docstring)."""

    VIEW = "1:N index"

    def __init__(self, pool: asyncpg.Pool, dsn: str, loader: TemplateLoader, poll_seconds: float = 1.0,
                 max_staleness_seconds: float = 5.0) -> None:  # fmt: skip
        self._pool, self._loader = pool, loader
        self.freshness = Freshness(self.VIEW, max_staleness_seconds)
        self._follower = ChangeFollower(dsn, _OUTBOX_CHANNEL, poll_seconds, self.catch_up, self.freshness)
        self.cursor = 0  # the last outbox id applied
        self._changes: collections.deque[tuple[int, str]] = collections.deque(maxlen=100_000)  # (outbox id, talent reloaded)
        self.consent_revision = 0  # the newest consent revision in the snapshot of the last catch-up
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Load every template, then follow."""
        started = self.freshness.started()
        self.cursor, self.consent_revision = await self._loader.load_all()
        self.freshness.caught_up(started)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def catch_up(self) -> None:
        async with self._lock:
            started = self.freshness.started()
            changed, last, revision = await apply_outbox(self._pool, self._loader, self.cursor)
            self._changes.extend(changed)
            self.cursor = last
            self.consent_revision = max(self.consent_revision, revision)
            self.freshness.caught_up(started)

    async def reload(self, talent_id: str) -> None:
        """A reload outside the follow loop (a Verify found the index behind): under the same lock,
        so an older snapshot never overwrites a newer one the loop applied."""
        async with self._lock:
            await self._loader.reload(talent_id)

    def changed_since(self, cursor: int) -> set[str] | None:
        """Talent whose templates changed after outbox id `cursor` (None: that far back is forgotten)."""
        if self._changes and self._changes[0][0] > cursor and len(self._changes) == self._changes.maxlen:
            return None
        return {t for at, t in self._changes if at > cursor}

    async def at_least(self, token: str) -> None:
        """Catch up first when `token` names a consent revision newer than the last catch-up saw;
        then refuse (UNAVAILABLE) if the index is older than its bound."""
        if decode_token(token) > self.consent_revision:
            await asyncio.wait_for(self.catch_up(), self.freshness.bound)
        self.freshness.require()


class IndexSearcher:
    """The Searcher a Verify uses: a fresh-enough index, and hits only on templates that are live."""

    def __init__(self, index: LikenessIndex, follower: IndexFollower, loader: TemplateLoader) -> None:
        self._index, self._follower, self._loader = index, follower, loader

    @property
    def models(self) -> dict[str, str]:
        norm = self._index.voice_norm
        return {"VOICE_COHORT": norm.name} if norm is not None else {}

    async def population(self) -> dict[Modality, int]:
        return await asyncio.to_thread(self._index.population)

    async def search(self, probes: list[Probe], floor: dict[Modality, float], at_least_as_fresh: str = "",
                     norm_review: float | None = None) -> list[ProbeHit]:  # fmt: skip
        await self._follower.at_least(at_least_as_fresh)
        live: dict[str, frozenset[str]] = {}  # talent -> its templates in Postgres now (checked this call)
        for _ in range(3):
            hits = await self._index.search(probes, floor, norm_review)
            unchecked = {h.talent_id for h in hits} - live.keys()
            if not unchecked:
                break
            now = await self._loader.live_template_ids(unchecked)
            live.update({t: now.get(t, frozenset()) for t in unchecked})
            indexed = await asyncio.to_thread(self._index.template_ids, unchecked)
            changed = sorted(t for t in unchecked if live[t] != indexed[t])
            if not changed:
                break
            # erased, swept or re-enrolled since the index loaded them: reload, search again
            log.info("index behind a hit talent's templates; reloading before deciding", talents=len(changed))
            for talent_id in changed:
                await self._follower.reload(talent_id)
        else:  # the third pass reloaded again: its hits are from before that reload
            raise Unavailable("the index kept changing under this search; try again", reason="INDEX_CHANGING")
        return [h for h in hits if live[h.talent_id]]
