"""VerificationService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace

import grpc
from google.longrunning import operations_pb2_grpc
from google.longrunning import operations_proto_pb2 as lro
from google.protobuf import empty_pb2

from likeness.verification.v1 import verification_pb2 as pb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.errors import InvalidArgument, ResourceExhausted
from likeness_common.interceptors import caller_api_key, current_principal
from likeness_common.proto import next_page_token, page

from .adapters.consent_client import ConsentClient
from .adapters.proto_mapping import operation_pb, purpose_name, verification_pb
from .domain import commands
from .domain.operations import VerifyOperation
from .service_layer.operations import OperationRunner
from .service_layer.ports import C2paTrust

SIGNED_CHUNK_BYTES = 1 << 20  # VerifyStreamSigned sends the signed clip back in chunks of this size


@dataclass(frozen=True)
class Limits:
    unary_bytes: int  # media in one Verify request
    stream_bytes: int  # media assembled from a VerifyStream
    reply_bytes: int  # the largest message the server sends (a signed clip must fit)
    operation_bytes: int  # media assembled from one StartVerifyOperation (the operation policy's max_bytes)


async def _assemble(requests: AsyncIterator[pb.VerifyStreamRequest], limit: int,
                    check: Callable[[pb.VerifyParameters], None] | None = None) -> tuple[pb.VerifyParameters, bytes]:  # fmt: skip
    """The parameters (first message) and the media (the chunks after it) of a client stream;
    `check` may refuse the parameters before any media is buffered."""
    parameters: pb.VerifyParameters | None = None
    chunks: list[bytes] = []
    size = 0
    async for message in requests:
        part = message.WhichOneof("part")
        if part == "parameters":
            if parameters is not None or chunks:
                raise InvalidArgument("send the parameters once, in the first message", reason="STREAM_OUT_OF_ORDER")
            parameters = message.parameters
            if check is not None:
                check(parameters)
        elif part == "chunk":
            if parameters is None:
                raise InvalidArgument("the first message must carry the parameters", reason="STREAM_OUT_OF_ORDER")
            size += len(message.chunk)
            if size > limit:
                raise ResourceExhausted(f"media exceeds the {limit}-byte limit", reason="MEDIA_TOO_LARGE")
            chunks.append(message.chunk)
    if parameters is None:
        raise InvalidArgument("the stream carried no parameters", reason="STREAM_OUT_OF_ORDER")
    return parameters, b"".join(chunks)


def _command(p: pb.VerifyParameters, media: bytes) -> commands.Verify:
    return commands.Verify(
        request_id=p.request_id, media=media, content_type=p.content_type, purpose=purpose_name(p.purpose),
        custom_purpose=p.custom_purpose, territory=p.territory, at_least_as_fresh=p.at_least_as_fresh, embed_c2pa=p.embed_c2pa,
    )  # fmt: skip


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    def __init__(self, h: SimpleNamespace, operations: SimpleNamespace, consent: ConsentClient, limits: Limits, runner: OperationRunner,
                 c2pa_trust: C2paTrust | None = None) -> None:  # fmt: skip
        """`h`, `operations`: service_layer.handlers and .operations with their dependencies bound
        (bootstrap); `consent` asks consent as the calling platform (its own key)."""
        self._h, self._ops, self._consent, self._limits, self._runner = h, operations, consent, limits, runner
        self._c2pa_trust = c2pa_trust or C2paTrust()

    async def _verify(self, cmd: commands.Verify, context: grpc.aio.ServicerContext, max_bytes: int,
                      reply_bytes: float | None = None) -> tuple[pb.Verification, pb.SignedMedia | None]:  # fmt: skip
        """`reply_bytes`: the largest signed clip one answer can carry (default: the message limit)."""
        if cmd.embed_c2pa:
            fits = self._h.check_signable(cmd, current_principal(), max_bytes=max_bytes, reply_bytes=reply_bytes or self._limits.reply_bytes)
        consent = self._consent.for_caller(caller_api_key(context))
        stored = await self._h.verify(cmd, current_principal(), consent=consent, max_bytes=max_bytes)
        if not cmd.embed_c2pa:
            return verification_pb(stored), None
        signed = await self._h.signed_clip(cmd.media, stored, embed=fits)
        return verification_pb(stored), pb.SignedMedia(content=signed.content, media_type=signed.media_type, sidecar=signed.sidecar)

    def _signable(self, p: pb.VerifyParameters) -> None:
        """An operation asked for a C2PA sidecar: refused on its first message where there is no chain."""
        if p.embed_c2pa:
            self._h.require_c2pa()

    async def Verify(self, request: pb.VerifyRequest, context: grpc.aio.ServicerContext) -> pb.VerifyResponse:
        p = request.parameters
        verification, signed = await self._verify(_command(p, request.media), context, self._limits.unary_bytes)
        return pb.VerifyResponse(verification=verification, signed_media=signed)

    async def VerifyStream(self, requests: AsyncIterator[pb.VerifyStreamRequest], context: grpc.aio.ServicerContext) -> pb.VerifyStreamResponse:
        self._h.require_platform(current_principal())  # before buffering up to stream_bytes of media
        parameters, media = await _assemble(requests, self._limits.stream_bytes)
        verification, signed = await self._verify(_command(parameters, media), context, self._limits.stream_bytes)
        return pb.VerifyStreamResponse(verification=verification, signed_media=signed)

    async def VerifyStreamSigned(self, requests: AsyncIterator[pb.VerifyStreamRequest],
                                 context: grpc.aio.ServicerContext) -> AsyncIterator[pb.VerifyStreamSignedResponse]:  # fmt: skip
        self._h.require_platform(current_principal())
        parameters, media = await _assemble(requests, self._limits.stream_bytes, lambda _: self._h.require_c2pa())
        cmd = replace(_command(parameters, media), embed_c2pa=True)
        # The signed clip goes back in chunks: no answer-size limit, so it is embedded wherever c2pa can.
        verification, signed = await self._verify(cmd, context, self._limits.stream_bytes, reply_bytes=math.inf)
        content = signed.content
        header = pb.SignedMedia(media_type=signed.media_type, sidecar=signed.sidecar)
        yield pb.VerifyStreamSignedResponse(answer=pb.VerifyStreamResponse(verification=verification, signed_media=header))
        for at in range(0, len(content), SIGNED_CHUNK_BYTES):
            yield pb.VerifyStreamSignedResponse(chunk=content[at : at + SIGNED_CHUNK_BYTES])

    async def StartVerifyOperation(self, requests: AsyncIterator[pb.VerifyStreamRequest], context: grpc.aio.ServicerContext) -> lro.Operation:
        self._h.require_platform(current_principal())
        parameters, media = await _assemble(requests, self._limits.operation_bytes, self._signable)
        op = await self._ops.start(_command(parameters, media), current_principal(), caller_api_key(context))
        self._runner.wake()
        return operation_pb(op)

    async def GetC2paTrust(self, request: pb.GetC2paTrustRequest, context: grpc.aio.ServicerContext) -> pb.GetC2paTrustResponse:
        return pb.GetC2paTrustResponse(trust_anchors_pem=self._c2pa_trust.trust_anchors_pem, signer_chain_pem=self._c2pa_trust.signer_chain_pem)

    async def GetReceipt(self, request: pb.GetReceiptRequest, context: grpc.aio.ServicerContext) -> pb.GetReceiptResponse:
        stored = await self._h.get_receipt(request.verification_id, current_principal())
        return pb.GetReceiptResponse(verification=verification_pb(stored))

    async def ListVerifications(self, request: pb.ListVerificationsRequest, context: grpc.aio.ServicerContext) -> pb.ListVerificationsResponse:
        size, after = page(request.page_size, request.page_token)
        found = await self._h.list_verifications(current_principal(), after=after, limit=size)
        return pb.ListVerificationsResponse(
            verifications=[verification_pb(s) for s in found],
            next_page_token=next_page_token([s.record.verification_id for s in found], size),
        )


class OperationsServicer(operations_pb2_grpc.OperationsServicer):
    """google.longrunning.Operations for StartVerifyOperation's operations: a platform sees its own."""

    def __init__(self, h: SimpleNamespace, operations: SimpleNamespace) -> None:
        self._h, self._ops = h, operations

    async def _pb(self, op: VerifyOperation) -> lro.Operation:
        result = None
        if op.verification_id:
            result = await self._h.get_receipt(op.verification_id, current_principal())
        return operation_pb(op, result)

    async def GetOperation(self, request: lro.GetOperationRequest, context: grpc.aio.ServicerContext) -> lro.Operation:
        return await self._pb(await self._ops.get(request.name, current_principal()))

    async def ListOperations(self, request: lro.ListOperationsRequest, context: grpc.aio.ServicerContext) -> lro.ListOperationsResponse:
        if request.filter:
            raise InvalidArgument("filter is not supported", reason="FILTER_UNSUPPORTED")
        size, after = page(request.page_size, request.page_token)
        found = await self._ops.list_operations(current_principal(), after=after, limit=size)
        return lro.ListOperationsResponse(operations=[await self._pb(op) for op in found],
                                          next_page_token=next_page_token([op.operation_id for op in found], size))  # fmt: skip

    async def CancelOperation(self, request: lro.CancelOperationRequest, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        await self._ops.cancel(request.name, current_principal())
        return empty_pb2.Empty()

    async def DeleteOperation(self, request: lro.DeleteOperationRequest, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        await self._ops.delete(request.name, current_principal())
        return empty_pb2.Empty()

    async def WaitOperation(self, request: lro.WaitOperationRequest, context: grpc.aio.ServicerContext) -> lro.Operation:
        """The operation once done, or as it stands after `timeout` (at most 60 s; default 60 s)."""
        timeout = min(60.0, request.timeout.ToTimedelta().total_seconds() if request.HasField("timeout") else 60.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            op = await self._ops.get(request.name, current_principal())
            if op.done or loop.time() >= deadline:
                return await self._pb(op)
            await asyncio.sleep(min(0.5, max(0.0, deadline - loop.time())))
