"""Long clips through a long-running operation (issue 12, "no silent caps"): the synchronous Verify
refuses them by name, StartVerifyOperation analyses all of them in the background, and any replica
answers google.longrunning.Operations for them. Real server, worker pool, Postgres and consent."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import grpc
import numpy as np
import pytest
from google.longrunning import operations_pb2_grpc
from google.longrunning import operations_proto_pb2 as lro

from likeness.verification.v1 import verification_pb2 as vpb
from likeness_common.crypto import load_kek
from tests import mediakit
from tests.conftest import error_reason
from tests.integration.verification_world import by_talent, expect, grant, metadata_of, rid, stream, verify_request, wait_done
from verification.adapters.operations import PostgresOperations

OBAMA = ("obama", "obama3.jpg")
BIDEN = ("biden", "biden2.jpg")


@pytest.fixture(scope="module")
async def ops(world, verification_app):
    async with grpc.aio.insecure_channel(verification_app.target) as channel:
        yield operations_pb2_grpc.OperationsStub(channel)


@pytest.fixture(scope="module")
async def obama_granted(world) -> str:
    return (await grant(world, world["ids"]["obama"])).consistency_token


@pytest.fixture(scope="module")
def long_clip() -> bytes:
    """200 s at 5 fps, 640x360: Obama on screen, Biden from 150 s only (past every old cap)."""
    background = mediakit.scene(640, 360, 3)
    obama = mediakit.paste(background, mediakit.face_patch(OBAMA, 130), (320, 180))
    biden = mediakit.paste(background, mediakit.face_patch(BIDEN, 130), (320, 180))
    return mediakit.encode_video(lambda i: obama if i < 750 else biden, count=1000, fps=5, options={"g": "50"})


async def test_a_long_clip_is_refused_by_verify_and_analysed_whole_by_an_operation(world, ops, obama_granted, long_clip):
    err = await expect(grpc.StatusCode.FAILED_PRECONDITION, world["verify"].Verify(verify_request(long_clip, obama_granted),
                                                                                   metadata=world["platform"]))  # fmt: skip
    assert error_reason(err) == "USE_LONG_RUNNING_OPERATION" and "StartVerifyOperation" in err.details()

    started = await world["verify"].StartVerifyOperation(stream(long_clip, at_least_as_fresh=obama_granted), metadata=world["platform"])
    assert started.name.startswith("operations/vop_") and not started.done
    assert metadata_of(started).state in (vpb.VerifyOperationMetadata.STATE_QUEUED, vpb.VerifyOperationMetadata.STATE_RUNNING)
    assert metadata_of(started).media_seconds == pytest.approx(200.0, abs=0.5)
    op, progress = await wait_done(ops, started.name, world["platform"])
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert op.WhichOneof("result") == "response"
    response = vpb.VerifyResponse()
    assert op.response.Unpack(response)
    v = response.verification
    found = by_talent(v)
    assert v.decision == vpb.DECISION_DENY and set(found) == {world["ids"]["obama"], world["ids"]["biden"]}
    assert found[world["ids"]["biden"]].start_seconds >= 150.0 and found[world["ids"]["obama"]].grant_id
    assert v.coverage.complete and v.coverage.frames_in_clip == 1000 and v.coverage.frames_sampled == 200
    assert v.coverage.frames_analyzed + v.coverage.frames_skipped_unchanged == 200
    # The receipt is an ordinary one: GetReceipt returns the same verification.
    fetched = (await world["verify"].GetReceipt(vpb.GetReceiptRequest(verification_id=v.verification_id), metadata=world["platform"])).verification
    assert fetched.receipt == v.receipt
    meta = metadata_of(op)
    assert meta.state == vpb.VerifyOperationMetadata.STATE_SUCCEEDED and meta.attempts == 1 and meta.expire_time.seconds > meta.end_time.seconds


async def test_start_is_idempotent_and_operations_are_private_to_their_platform(world, ops, pool):
    clip = mediakit.encode_video(lambda i: mediakit.scene(320, 240, i // 10), count=40, fps=10)
    request_id = rid()
    first = await world["verify"].StartVerifyOperation(stream(clip, request_id), metadata=world["platform"])
    again = await world["verify"].StartVerifyOperation(stream(clip, request_id), metadata=world["platform"])
    assert again.name == first.name
    other = mediakit.encode_video(lambda i: mediakit.scene(320, 240, 9), count=20, fps=10)
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, world["verify"].StartVerifyOperation(stream(other, request_id), metadata=world["platform"]))
    assert error_reason(err) == "REQUEST_ID_REUSED"
    op, _ = await wait_done(ops, first.name, world["platform"])
    assert op.done and op.WhichOneof("result") == "response"
    # Another platform, an agency: as if it did not exist (or not theirs to ask).
    await expect(grpc.StatusCode.NOT_FOUND, ops.GetOperation(lro.GetOperationRequest(name=first.name), metadata=world["platform2"]))
    await expect(grpc.StatusCode.NOT_FOUND, ops.CancelOperation(lro.CancelOperationRequest(name=first.name), metadata=world["platform2"]))
    await expect(grpc.StatusCode.PERMISSION_DENIED, ops.GetOperation(lro.GetOperationRequest(name=first.name), metadata=world["agency"]))
    await expect(grpc.StatusCode.INVALID_ARGUMENT, ops.GetOperation(lro.GetOperationRequest(name="operations/x"), metadata=world["platform"]))
    listed = await ops.ListOperations(lro.ListOperationsRequest(page_size=100), metadata=world["platform"])
    assert first.name in [o.name for o in listed.operations]
    assert first.name not in [o.name for o in (await ops.ListOperations(lro.ListOperationsRequest(), metadata=world["platform2"])).operations]
    # The media and the caller's credential are gone once the operation ended; the record stays until it expires.
    oid = first.name.removeprefix("operations/")
    assert await pool.fetchval("SELECT count(*) FROM verify_operation_media WHERE operation_id = $1", oid) == 0
    assert await pool.fetchval("SELECT sealed_api_key IS NULL AND wrapped_key IS NULL FROM verify_operations WHERE operation_id = $1", oid)
    await pool.execute("UPDATE verify_operations SET expire_at = now() - interval '1 second' WHERE operation_id = $1", oid)
    assert await PostgresOperations(pool, None).sweep() >= 1
    await expect(grpc.StatusCode.NOT_FOUND, ops.GetOperation(lro.GetOperationRequest(name=first.name), metadata=world["platform"]))


async def test_cancel_stops_an_operation_and_deletes_its_media(world, ops, pool, verification_app, long_clip):
    runner = verification_app.app.runner
    await runner.stop()  # hold the queue still, so the cancel lands on a queued operation
    try:
        started = await world["verify"].StartVerifyOperation(stream(long_clip), metadata=world["platform"])
        oid = started.name.removeprefix("operations/")
        assert await pool.fetchval("SELECT count(*) FROM verify_operation_media WHERE operation_id = $1", oid) > 0
        await ops.CancelOperation(lro.CancelOperationRequest(name=started.name), metadata=world["platform"])
    finally:
        runner.start()
    op = await ops.GetOperation(lro.GetOperationRequest(name=started.name), metadata=world["platform"])
    assert op.done and op.error.code == grpc.StatusCode.CANCELLED.value[0]
    assert metadata_of(op).state == vpb.VerifyOperationMetadata.STATE_CANCELLED
    assert await pool.fetchval("SELECT count(*) FROM verify_operation_media WHERE operation_id = $1", oid) == 0

    # A running one: the replica stops at its next lease renewal.
    running = await world["verify"].StartVerifyOperation(stream(long_clip), metadata=world["platform"])
    for _ in range(200):
        if metadata_of(await ops.GetOperation(lro.GetOperationRequest(name=running.name), metadata=world["platform"])).state == vpb.VerifyOperationMetadata.STATE_RUNNING:
            break
        await asyncio.sleep(0.05)
    await ops.CancelOperation(lro.CancelOperationRequest(name=running.name), metadata=world["platform"])
    op, _ = await wait_done(ops, running.name, world["platform"], timeout=60)
    assert metadata_of(op).state in (vpb.VerifyOperationMetadata.STATE_CANCELLED, vpb.VerifyOperationMetadata.STATE_SUCCEEDED)
    assert metadata_of(op).cancel_requested


async def test_an_operation_whose_replica_stopped_is_resumed_elsewhere_or_fails_visibly(world, ops, pool, stack, verification_app):
    """A replica that claimed an operation and stopped (its lease lapses) hands it to the next one;
    after max_attempts interruptions the operation fails with ANALYSIS_INTERRUPTED, never hangs."""
    runner = verification_app.app.runner
    store = PostgresOperations(pool, load_kek(None, stack.kek_file))
    clip = mediakit.encode_video(lambda i: mediakit.scene(320, 240, i // 10), count=30, fps=10)
    await runner.stop()
    try:
        resumed = await world["verify"].StartVerifyOperation(stream(clip), metadata=world["platform"])
        claim = await store.claim("rep_dead", timedelta(milliseconds=200), max_attempts=3)
        assert claim is not None and claim.operation.name == resumed.name and claim.media == clip
        await asyncio.sleep(0.3)  # the dead replica's lease lapses
    finally:
        runner.start()
    op, _ = await wait_done(ops, resumed.name, world["platform"])
    assert op.WhichOneof("result") == "response" and metadata_of(op).attempts == 2

    await runner.stop()
    try:
        doomed = await world["verify"].StartVerifyOperation(stream(clip), metadata=world["platform"])
        for _ in range(3):
            assert (await store.claim("rep_dead", timedelta(milliseconds=1), max_attempts=3)) is not None
            await asyncio.sleep(0.05)
    finally:
        runner.start()
    op, _ = await wait_done(ops, doomed.name, world["platform"])
    assert op.error.code == grpc.StatusCode.ABORTED.value[0] and "interrupted 3 times" in op.error.message
    assert metadata_of(op).state == vpb.VerifyOperationMetadata.STATE_FAILED


async def test_a_bad_upload_fails_before_it_is_stored_and_limits_are_errors(world, pool):
    before = await pool.fetchval("SELECT count(*) FROM verify_operations")
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, world["verify"].StartVerifyOperation(stream(b"not media at all"), metadata=world["platform"]))
    assert error_reason(err) == "UNDECODABLE_MEDIA"
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, world["verify"].StartVerifyOperation(stream(mediakit.wav(np.zeros(16000)), request_id=""), metadata=world["platform"]))
    assert error_reason(err) == "REQUEST_ID_REQUIRED"
    assert await pool.fetchval("SELECT count(*) FROM verify_operations") == before


async def test_the_receipt_of_an_operation_binds_the_platforms_request_id(world, ops):
    clip = mediakit.encode_video(lambda i: mediakit.scene(320, 240, i // 10), count=30, fps=10)
    request_id = rid()
    started = await world["verify"].StartVerifyOperation(stream(clip, request_id), metadata=world["platform"])
    op, _ = await wait_done(ops, started.name, world["platform"])
    response = vpb.VerifyResponse()
    assert op.response.Unpack(response)
    assert json.loads(response.verification.receipt.canonical_payload)["request_id"] == request_id
