"""VerificationService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc

from likeness.verification.v1 import verification_pb2 as pb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.errors import InvalidArgument, ResourceExhausted
from likeness_common.interceptors import caller_api_key, current_principal
from likeness_common.ports import Signer
from likeness_common.proto import next_page_token, page

from .adapters.consent_client import ConsentClient
from .adapters.proto_mapping import purpose_name, verification_pb
from .domain import commands
from .domain.model import Thresholds
from .service_layer import handlers
from .service_layer.ports import Extractor, Searcher, VerificationUnitOfWork


@dataclass(frozen=True)
class Limits:
    unary_bytes: int  # media in one Verify request
    stream_bytes: int  # media assembled from a VerifyStream


def _command(p: pb.VerifyParameters, media: bytes) -> commands.Verify:
    return commands.Verify(
        request_id=p.request_id, media=media, content_type=p.content_type, purpose=purpose_name(p.purpose),
        custom_purpose=p.custom_purpose, territory=p.territory, at_least_as_fresh=p.at_least_as_fresh,
    )  # fmt: skip


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    def __init__(self, uow: Callable[[], VerificationUnitOfWork], extractor: Extractor, searcher: Searcher,
                 consent: ConsentClient, signer: Signer, thresholds: Thresholds, limits: Limits) -> None:  # fmt: skip
        self._uow, self._extractor, self._searcher = uow, extractor, searcher
        self._consent, self._signer, self._thresholds, self._limits = consent, signer, thresholds, limits

    async def _verify(self, cmd: commands.Verify, context: grpc.aio.ServicerContext, max_bytes: int) -> pb.Verification:
        stored = await handlers.verify(
            cmd, current_principal(), self._uow(), self._extractor, self._searcher,
            self._consent.for_caller(caller_api_key(context)), self._signer, self._thresholds, max_bytes=max_bytes,
        )  # fmt: skip
        return verification_pb(stored)

    async def Verify(self, request: pb.VerifyRequest, context: grpc.aio.ServicerContext) -> pb.VerifyResponse:
        verification = await self._verify(_command(request.parameters, request.media), context, self._limits.unary_bytes)
        return pb.VerifyResponse(verification=verification)

    async def VerifyStream(self, requests: AsyncIterator[pb.VerifyStreamRequest], context: grpc.aio.ServicerContext) -> pb.VerifyStreamResponse:
        handlers.require_platform(current_principal())  # before buffering up to stream_bytes of media
        parameters: pb.VerifyParameters | None = None
        chunks: list[bytes] = []
        size = 0
        async for message in requests:
            part = message.WhichOneof("part")
            if part == "parameters":
                if parameters is not None or chunks:
                    raise InvalidArgument("send the parameters once, in the first message", reason="STREAM_OUT_OF_ORDER")
                parameters = message.parameters
            elif part == "chunk":
                if parameters is None:
                    raise InvalidArgument("the first message must carry the parameters", reason="STREAM_OUT_OF_ORDER")
                size += len(message.chunk)
                if size > self._limits.stream_bytes:
                    raise ResourceExhausted(f"media exceeds the {self._limits.stream_bytes}-byte limit", reason="MEDIA_TOO_LARGE")
                chunks.append(message.chunk)
        if parameters is None:
            raise InvalidArgument("the stream carried no parameters", reason="STREAM_OUT_OF_ORDER")
        verification = await self._verify(_command(parameters, b"".join(chunks)), context, self._limits.stream_bytes)
        return pb.VerifyStreamResponse(verification=verification)

    async def GetReceipt(self, request: pb.GetReceiptRequest, context: grpc.aio.ServicerContext) -> pb.GetReceiptResponse:
        stored = await handlers.get_receipt(request.verification_id, current_principal(), self._uow())
        return pb.GetReceiptResponse(verification=verification_pb(stored))

    async def ListVerifications(self, request: pb.ListVerificationsRequest, context: grpc.aio.ServicerContext) -> pb.ListVerificationsResponse:
        size, after = page(request.page_size, request.page_token)
        found = await handlers.list_verifications(current_principal(), self._uow(), after=after, limit=size)
        return pb.ListVerificationsResponse(
            verifications=[verification_pb(s) for s in found],
            next_page_token=next_page_token([s.record.verification_id for s in found], size),
        )
