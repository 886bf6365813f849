"""Cluster mode of the 1:N index (issue 16): two verification replicas share one Qdrant index
(qdrant-client's local mode stands in for the cluster: the adapter's own calls, answered in
process), with the real Postgres, outbox and gRPC servers.

- One replica is elected the writer, loads every template from Postgres once, and follows the
  outbox; the other only reads and is as fresh as the writer's recorded cursor.
- Both decide real Verify calls from the shared index; an enrollment made through the service is
  found by the reader, an erasure removes the talent's points from Qdrant.
- What Qdrant stores is rotated: its vectors, compared as dlib templates, match no enrolled face;
  its payload holds ids, modality and model only.
- The rotation key is rotated with no downtime: a new set is built and switched to while both
  replicas keep answering; the old key is erased and the old collections dropped.
- The writer stops: the reader takes over the writing at its next catch-up, and drops the
  collections a builder that stopped too early left of a retired key.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import grpc
import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.crypto import load_kek
from likeness_common.errors import FailedPrecondition
from tests.conftest import start_verification
from tests.integration.test_index_freshness import enroll_face, new_talent
from tests.integration.verification_world import BIG, face_file, grant, rid, verify_request, wait_indexed
from verification.adapters.index_cluster import start_rotation
from verification.adapters.qdrant_index import point_id
from verification.domain.model import Location, Modality, Probe

pytestmark = pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning")


@pytest.fixture(scope="module")
async def cluster(stack, pool, consent_app, world):
    client = QdrantClient(":memory:")
    settings = dict(workers=1, index_engine="qdrant", qdrant_collection_prefix=f"it{secrets.token_hex(3)}", index_poll_seconds=0.2,
                    index_max_staleness_seconds=3, qdrant_hnsw_ef=320)  # fmt: skip
    first = await start_verification(stack, pool, consent_app.target, qdrant=client, **settings)
    second = await start_verification(stack, pool, consent_app.target, qdrant=client, **settings)
    replicas = [first, second]
    yield client, replicas
    for replica in replicas:
        if replica.app.follower._session is not None and not replica.app.follower._session.is_closed():
            await replica.app.stop()


def stub(replica) -> tuple[grpc.aio.Channel, verification_pb2_grpc.VerificationServiceStub]:
    channel = grpc.aio.insecure_channel(replica.target, options=BIG)
    return channel, verification_pb2_grpc.VerificationServiceStub(channel)


async def test_one_replica_writes_both_decide_from_the_shared_index(cluster, world, pool, verification_app):
    client, (first, second) = cluster
    writers = [r for r in (first, second) if r.app.follower.writing]
    assert len(writers) == 1 and writers[0] is first  # the first to start took the lock; the other reads
    assert {e.hnsw_ef for r in (first, second) for e in r.app.index.by_modality.values()} == {320}  # QDRANT_HNSW_EF
    ids = world["ids"]
    state = await pool.fetchrow("SELECT * FROM index_writer_state WHERE collection_set = $1", first.app.follower.set_name)
    assert state["outbox_cursor"] > 0 and second.app.follower.cursor <= state["outbox_cursor"]
    for name, modality in (("obama", Modality.FACE), ("biden", Modality.FACE), ("reader_a", Modality.VOICE)):
        for replica in (first, second):
            assert replica.app.index.contains(ids[name], modality), name
    # Both hold exactly what the embedded session replica holds, template for template.
    embedded = verification_app.app.index
    talents = set(ids.values())
    assert second.app.index.template_ids(talents) == embedded.template_ids(talents)

    await grant(world, ids["biden"])
    probe = face_file("biden", "biden2.jpg")
    scores = {}
    for replica in (verification_app, first, second):
        channel, verify = stub(replica)
        async with channel:
            v = (await verify.Verify(verify_request(probe), metadata=world["platform"])).verification
        assert v.decision == vpb.DECISION_ALLOW, v
        assert {m.talent_id for m in v.matches} == {ids["biden"]}
        scores[replica.target] = v.matches[0].score
    # The same exact score from the rotated, re-scored cluster candidates as from the embedded scan.
    assert max(scores.values()) - min(scores.values()) < 1e-4, scores


async def test_the_reader_follows_an_enrollment_and_an_erasure(cluster, world, stack, channel, pool):
    client, (first, second) = cluster
    talent = await new_talent(stack, channel, world, "Alex Lacamoire")
    enrolled_at = time.monotonic()
    await enroll_face(world, talent, ("alex_lacamoire", "alex1.png"))
    followed_s = await wait_indexed(second.app, talent, Modality.FACE, timeout=10)
    token = (await grant(world, talent)).consistency_token
    channel_, verify = stub(second)
    async with channel_:
        v = (await verify.Verify(verify_request(face_file("alex_lacamoire", "alex2.jpg"), token=token), metadata=world["platform"])).verification
    assert v.decision == vpb.DECISION_ALLOW and {m.talent_id for m in v.matches} == {talent}, v
    print(f"\nthe cluster index served a new enrollment {followed_s * 1000:.0f} ms after EnrollFace returned "
          f"({(time.monotonic() - enrolled_at) * 1000:.0f} ms to the ALLOW)")  # fmt: skip

    face = first.app.index.by_modality[Modality.FACE]
    assert len(face.template_ids([talent])[talent]) == 1
    async with grpc.aio.insecure_channel(world["enroll_target"]) as ch:
        await enrollment_pb2_grpc.EnrollmentServiceStub(ch).EraseTalentBiometrics(
            epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent, reason="cluster erasure test"), metadata=world["agency"]
        )
    await wait_indexed(second.app, talent, Modality.FACE, present=False, timeout=10)
    points = client.scroll(face.collection, scroll_filter=_talent_filter(talent), limit=10)[0]
    assert points == []  # deleted from the cluster's storage, not only hidden


async def test_what_qdrant_stores_is_rotated_and_carries_no_biometrics_in_its_payload(cluster, world, verification_app):
    client, (first, _) = cluster
    embedded = verification_app.app.index
    floors = {Modality.FACE: 0.48, Modality.VOICE: 0.75}  # the review floors (Thresholds())
    for modality, engine in first.app.index.by_modality.items():
        points = client.scroll(engine.collection, limit=10_000, with_vectors=True)[0]
        assert points
        allowed = {"talent_id", "template_id", "modality", "model"} | ({"a", "b"} if modality is Modality.VOICE and embedded.voice_norm else set())
        assert all(set(p.payload) <= allowed and {"talent_id", "template_id", "modality", "model"} <= set(p.payload) for p in points)
        stored = np.asarray([p.vector for p in points], np.float32)
        probes = [Probe(modality, Location(), v, window=True) for v in stored]
        leaked = await embedded.search(probes, floors)
        assert leaked == [], f"{len(leaked)} stored {modality.value} vectors match an enrolled talent as templates"


async def test_rotating_the_index_key_rebuilds_and_switches_with_no_downtime(cluster, world, stack, pool):
    client, (first, second) = cluster
    old_key, old_set = first.app.follower.key_id, first.app.follower.set_name
    biden = world["ids"]["biden"]
    template = sorted(first.app.index.template_ids([biden])[biden])[0]
    old_point = _point(client, f"{old_set}_face", template)
    pending = await start_rotation(pool, load_kek(None, stack.kek_file))
    with pytest.raises(FailedPrecondition):  # one rotation at a time
        await start_rotation(pool, load_kek(None, stack.kek_file))
    probe, answers, started = face_file("biden", "biden2.jpg"), [], time.monotonic()
    while not all(r.app.follower.key_id == pending for r in (first, second)):  # Verify keeps answering throughout
        assert time.monotonic() - started < 30, "the replicas never switched to the new key"
        for replica in (first, second):
            channel, verify = stub(replica)
            async with channel:
                answers.append((await verify.Verify(verify_request(probe), metadata=world["platform"])).verification.decision)
        await asyncio.sleep(0.2)
    print(f"\nindex key rotated in {time.monotonic() - started:.1f} s; {len(answers)} Verify calls meanwhile, all answered")
    assert answers and set(answers) == {vpb.DECISION_ALLOW}
    keys = {r["key_id"]: r for r in await pool.fetch("SELECT * FROM index_keys WHERE key_id = ANY($1::text[])", [old_key, pending])}
    assert keys[old_key]["retired_at"] is not None and keys[old_key]["wrapped_key"] is None  # the old key is erased
    assert keys[pending]["activated_at"] is not None
    new_set = first.app.follower.set_name
    assert new_set != old_set and sum(r.app.follower.writing for r in (first, second)) == 1
    new_point = _point(client, f"{new_set}_face", template)
    assert np.linalg.norm(new_point - old_point) > 0.1  # the same template, stored under another rotation
    for replica in (first, second):
        channel, verify = stub(replica)
        async with channel:
            v = (await verify.Verify(verify_request(probe), metadata=world["platform"])).verification
        assert v.decision == vpb.DECISION_ALLOW and {m.talent_id for m in v.matches} == {biden}
    started = time.monotonic()
    while client.collection_exists(f"{old_set}_face"):  # dropped two staleness bounds after the switch
        assert time.monotonic() - started < 15, "the old collections were never dropped"
        await asyncio.sleep(0.2)
    assert not client.collection_exists(f"{old_set}_voice")
    assert await pool.fetchval("SELECT count(*) FROM index_writer_state WHERE collection_set = $1", old_set) == 0


def _point(client: QdrantClient, collection: str, template_id: str) -> np.ndarray:
    return np.asarray(client.retrieve(collection, [point_id(template_id)], with_vectors=True)[0].vector, np.float32)


async def test_when_the_writer_stops_the_reader_takes_over(cluster, world, stack, channel, pool):
    """...and drops what a builder that stopped before its drop left of a retired key."""
    client, replicas = cluster
    writer, reader = sorted(replicas, key=lambda r: not r.app.follower.writing)
    assert writer.app.follower.writing and not reader.app.follower.writing
    prefix, dead = reader.app.follower._prefix, "ixk_" + secrets.token_hex(6)  # noqa: SLF001
    await pool.execute("INSERT INTO index_keys (key_id, activated_at, retired_at) VALUES ($1, now() - interval '2 hours', "
                       "now() - interval '1 hour')", dead)  # fmt: skip
    left = [f"{prefix}_{dead}_0123456789_{m}" for m in ("face", "voice")]
    for name in left:
        client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    await pool.execute("INSERT INTO index_writer_state VALUES ($1, 1, 1, 0, 1, 'gone')", f"{prefix}_{dead}_0123456789")
    active = writer.app.follower.set_name
    await writer.app.stop()
    started = time.monotonic()
    while not reader.app.follower.writing:
        assert time.monotonic() - started < 10, "the reader never took over the writing"
        await asyncio.sleep(0.1)
    talent = await new_talent(stack, channel, world, "Kit Harington")
    await enroll_face(world, talent, ("kit_harington", "john1.jpeg"))
    await wait_indexed(reader.app, talent, Modality.FACE, timeout=10)
    while any(client.collection_exists(name) for name in left):  # two staleness bounds after the take-over
        assert time.monotonic() - started < 20, "the retired key's leftover collections were never dropped"
        await asyncio.sleep(0.2)
    assert not await pool.fetchval("SELECT count(*) FROM index_writer_state WHERE starts_with(collection_set, $1)", f"{prefix}_{dead}_")
    assert client.collection_exists(f"{active}_face") and client.collection_exists(f"{active}_voice")  # the serving set stays
    await reader.app.stop()


def _talent_filter(talent: str):
    return models.Filter(must=[models.FieldCondition(key="talent_id", match=models.MatchValue(value=talent))])
