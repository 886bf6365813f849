"""Verification use cases. Media work and consent checks run outside any database transaction;
the decision, its receipt and its events are stored in one short transaction."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from likeness_common.documents import RECEIPT_TYPE, canonical_json
from likeness_common.errors import FailedPrecondition, InvalidArgument, LikenessError, NotFound, PermissionDenied
from likeness_common.ids import is_id, new_id
from likeness_common.ports import Signer
from likeness_common.principal import Principal
from likeness_common.provenance import Signed
from likeness_common.signing import envelope
from likeness_common.tokens import freshest

from ..domain import commands, events
from ..domain.calibration import PopulationRule
from ..domain.model import Thresholds, VerificationRecord, best_matches, decide, with_impostors
from .ports import ClipSigner, ConsentChecker, Extractor, Progress, Searcher, StoredVerification, VerificationUnitOfWork

OPERATION = "Verify"
LONG_RUNNING = "StartVerifyOperation"


@dataclass(frozen=True)
class SyncBudget:
    """Clips a synchronous Verify analyses; longer ones go through StartVerifyOperation."""

    video_seconds: float = 120.0
    audio_seconds: float = 600.0


def sniffed_type(cmd: commands.Verify, extractor: Extractor) -> str:
    """The media type sniffed from the bytes (UNSUPPORTED_MEDIA_TYPE / UNDECODABLE_MEDIA before any
    work); CONTENT_TYPE_MISMATCH when the declared type names another kind of media."""
    media_type = extractor.media_type(cmd.media)
    declared = cmd.content_type.split(";")[0].strip().lower()
    if declared and declared.split("/")[0] != media_type.split("/")[0]:
        raise InvalidArgument(f"content_type says {declared} but the bytes are {media_type}", reason="CONTENT_TYPE_MISMATCH")
    return media_type


def _use_operation(seconds: float, limit: float) -> FailedPrecondition:
    return FailedPrecondition(
        f"the clip is {seconds:.1f} s long; Verify analyses up to {limit:g} s of this kind of media: "
        f"upload it with {LONG_RUNNING} (a long-running operation) instead",
        reason="USE_LONG_RUNNING_OPERATION",
        metadata={"seconds": f"{seconds:.1f}", "limit": f"{limit:.0f}", "method": f"likeness.verification.v1.VerificationService/{LONG_RUNNING}"},
    )


def _now() -> datetime:
    return datetime.now(UTC)


# Room for the manifest on top of the clip in the answer (a few KiB measured; the receipt is the bulk).
SIGNED_CLIP_MARGIN = 1 << 20


def check_signable(cmd: commands.Verify, actor: Principal, clip_signer: ClipSigner | None, max_bytes: int, reply_bytes: float) -> bool:
    """Before any analysis of a Verify that asks for its clip signed (embed_c2pa): nothing is
    recorded for a call that cannot be answered. True when the signed clip fits in one answer
    (`reply_bytes`, the largest the server sends); otherwise the answer is a `.c2pa` sidecar."""
    require_platform(actor)
    cmd.validate(max_bytes)
    require_c2pa(clip_signer)
    return len(cmd.media) + SIGNED_CLIP_MARGIN <= reply_bytes


def require_c2pa(clip_signer: ClipSigner | None) -> None:
    if clip_signer is None:
        raise FailedPrecondition("this deployment has no C2PA signing chain: embed_c2pa is not available", reason="C2PA_NOT_CONFIGURED")


async def signed_clip(media: bytes, stored: StoredVerification, clip_signer: ClipSigner, *, embed: bool = True) -> Signed:
    """The clip with its receipt embedded (where c2pa can embed into its format and `embed`), else
    a `.c2pa` sidecar binding the receipt to the clip's bytes as uploaded; declaring AI-generated
    media when a deciding grant asks for a disclosure label. The registry keeps no copy."""
    r = stored.record
    receipt = envelope(RECEIPT_TYPE, stored.payload, stored.signature)
    disclosure = any(kind == "disclosure_label" for kind, _ in r.conditions)
    try:
        return await clip_signer.sign_async(media, r.media_type, receipt, ai_disclosure=disclosure, embed=embed)
    except ValueError as error:
        raise FailedPrecondition(f"{error} (the verification {r.verification_id} stands: GetReceipt)", reason="C2PA_SIGNING_FAILED") from error


def require_platform(actor: Principal) -> None:
    """Only platforms verify media (VerifyStream asks before it reads the first chunk)."""
    if not actor.is_platform:
        raise PermissionDenied("Verify is called by a platform, with its own API key", reason="PLATFORM_ONLY")


async def verify(
    cmd: commands.Verify,
    actor: Principal,
    uow: VerificationUnitOfWork,
    extractor: Extractor,
    searcher: Searcher,
    consent: ConsentChecker,
    signer: Signer,
    thresholds: Thresholds,
    *,
    max_bytes: int,
    budget: SyncBudget | None = None,
    progress: Progress | None = None,
    operation: str = OPERATION,
    require_identity_verified: bool = False,
    population_rule: PopulationRule | None = None,
) -> StoredVerification:
    """Analyse the clip, search every probe 1:N, ask consent for every match, sign the decision.
    With a `budget` (synchronous calls), a longer clip is refused with FAILED_PRECONDITION naming
    StartVerifyOperation before any analysis (and if its header understated its length, when the
    analysis reaches the limit); without one (an operation's run), the media limits alone apply.
    `operation` keeps the idempotency of the two entry points apart. `require_identity_verified`:
    an ALLOW resting on the grant of a talent no operator has identity-verified becomes REVIEW.
    `population_rule`: the thresholds are raised for the number of templates searched, and each
    match carries its expected number of impostor templates (calibration.PopulationRule)."""
    require_platform(actor)
    cmd.validate(max_bytes)
    sha256 = hashlib.sha256(cmd.media).hexdigest()
    params = {**asdict(cmd), "media": sha256}
    if cmd.request_id:
        async with uow:
            if prior := await uow.idempotency.recall(actor.principal_id, operation, cmd.request_id, params):
                return await _replay(uow, prior)

    media_type = sniffed_type(cmd, extractor)
    limit = None
    if budget is not None:
        duration = await extractor.duration(cmd.media, media_type=media_type)
        limit = budget.video_seconds if duration.video else budget.audio_seconds
        if duration.seconds is not None and duration.seconds > limit + 1:  # (the same 1 s slack as the media limits)
            raise _use_operation(duration.seconds, limit)
    try:
        extraction = await extractor.extract(cmd.media, progress, max_seconds=limit, media_type=media_type)
    except LikenessError as error:
        if limit is not None and error.reason == "MEDIA_TOO_LONG":  # the header understated the clip's length
            raise _use_operation(float(error.metadata.get("seconds", limit)), limit) from None
        raise
    if population_rule is not None:
        thresholds = thresholds.for_population(await searcher.population(), population_rule)
    hits = await searcher.search(extraction.probes, thresholds.search_floor(), cmd.at_least_as_fresh, thresholds.voice_norm_review)
    matches = best_matches(hits, thresholds)
    if population_rule is not None:
        matches = with_impostors(matches, thresholds, population_rule)

    territory = cmd.territory.upper()
    checks = await asyncio.gather(
        *(consent.check(m.talent_id, m.modality, cmd.purpose, cmd.custom_purpose, territory, cmd.at_least_as_fresh) for m in matches)
    )
    verdicts = {(m.talent_id, m.modality): verdict for m, (verdict, _token) in zip(matches, checks, strict=True)}
    tokens = [token for _verdict, token in checks if token] or ([cmd.at_least_as_fresh] if cmd.at_least_as_fresh else [])
    disputes, verified = {}, set()
    if matches:
        async with uow:
            disputes = await uow.disputes.open_for({m.talent_id for m in matches})
            verified = await uow.talent.identity_verified({m.talent_id for m in matches})
    outcome = decide(matches, verdicts, extraction.coverage, thresholds, disputes,
                     identity_verified=verified, require_identity_verified=require_identity_verified)  # fmt: skip

    record = VerificationRecord(
        verification_id=new_id("ver"),
        receipt_id=new_id("rcp"),
        request_id=cmd.request_id,
        platform_id=actor.principal_id,
        media_sha256=sha256,
        media_type=media_type,
        media_bytes=len(cmd.media),
        frames=extraction.frames,
        purpose=cmd.purpose,
        custom_purpose=cmd.custom_purpose,
        territory=territory,
        decision=outcome.decision,
        matches=outcome.matches,
        grant_ids=outcome.grant_ids,
        conditions=outcome.conditions,
        models={**extractor.models, **searcher.models},
        thresholds=thresholds,
        consistency_token=freshest(tokens),
        decided_at=_now(),
        coverage=extraction.coverage,
        provenance=extraction.provenance,
        c2pa_requested=cmd.embed_c2pa,
        review_reasons=outcome.review_reasons,
        require_identity_verified=require_identity_verified,
    )
    payload, signature = await signer.sign(lambda key_id: canonical_json(record.receipt_payload(key_id)))
    stored = StoredVerification(record, payload, signature)
    async with uow:
        if cmd.request_id and (prior := await uow.idempotency.recall(actor.principal_id, operation, cmd.request_id, params)):
            return await _replay(uow, prior)  # a concurrent retry won the race
        await uow.verifications.add(stored)
        for key in sorted({m.talent_id for m in record.matches}) or [record.platform_id]:
            uow.emit(events.VerificationDecided(record, key))
        if cmd.request_id:
            await uow.idempotency.remember(actor.principal_id, operation, cmd.request_id, params, {"verification_id": record.verification_id})
        await uow.commit()
    return stored


async def _replay(uow: VerificationUnitOfWork, prior: dict) -> StoredVerification:
    stored = await uow.verifications.get(prior["verification_id"])
    if stored is None:
        raise NotFound("that verification no longer exists")
    return stored


async def get_receipt(verification_id: str, actor: Principal, uow: VerificationUnitOfWork) -> StoredVerification:
    """A platform reads its own verifications; an agency those that matched a talent it represents
    (the signed receipt names every matched talent, as the VerificationDecided events do); a talent
    those that matched themselves; an operator any."""
    if not is_id(verification_id, "ver"):
        raise NotFound(f"verification {verification_id[:40]!r} not found")
    async with uow:
        stored = await uow.verifications.get(verification_id)
        if stored is None:
            visible = False
        elif actor.is_agency:
            matched = sorted({m.talent_id for m in stored.record.matches})
            visible = bool(matched) and await uow.mandates.represents_any(actor.principal_id, matched, _now())
        elif actor.is_talent:
            visible = actor.principal_id in {m.talent_id for m in stored.record.matches}
        else:
            visible = actor.is_operator or stored.record.platform_id == actor.principal_id
    if not visible:
        raise NotFound(f"verification {verification_id} not found")  # never confirm others' ids
    return stored


async def list_verifications(actor: Principal, uow: VerificationUnitOfWork, *, after: str, limit: int) -> list[StoredVerification]:
    """Newest first: an agency's talent's uses, a talent's own, a platform's own calls, or (operator) all."""
    async with uow:
        if actor.is_talent:
            return await uow.verifications.list(platform_id=None, talent_ids=[actor.principal_id], after=after, limit=limit)
        if actor.is_agency:
            talent = await uow.mandates.represented(actor.principal_id, _now())
            return await uow.verifications.list(platform_id=None, talent_ids=talent, after=after, limit=limit) if talent else []
        platform = None if actor.is_operator else actor.principal_id
        return await uow.verifications.list(platform_id=platform, talent_ids=None, after=after, limit=limit)
