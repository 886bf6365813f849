"""Enrollment use cases. Media analysis runs outside any database transaction (it takes
seconds); the result is stored in one short transaction with its event."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np

from likeness_common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    check_request_id,
    require,
)
from likeness_common.ids import is_id, new_id
from likeness_common.principal import Principal, require_may_act_for

from ..domain import commands, events
from ..domain.model import (
    Dispute,
    DisputeState,
    Enrollment,
    EnrollmentState,
    Modality,
    Resolution,
    SampleOutcome,
    Similar,
    centroid,
    usable,
)
from .ports import BiometricEngine, EnrollmentUnitOfWork, LikenessSearch

INCONSISTENT = "INCONSISTENT_SAMPLES"


def _now() -> datetime:
    return datetime.now(UTC)


async def _authorize(uow: EnrollmentUnitOfWork, actor: Principal, talent_id: str, now: datetime, *, talent_may: bool = False) -> None:
    """Operators and agencies with an active mandate; with `talent_may`, the talent themselves
    too (reading: any credential of their own; erasing: an identity-verified one)."""
    if talent_may and actor.is_talent_self(talent_id):
        return
    if actor.is_operator and not await uow.parties.talent_exists(talent_id):
        raise NotFound(f"talent {talent_id} not found")
    await require_may_act_for(actor, talent_id, lambda agency_id, talent: uow.parties.represents(agency_id, talent, now))


def _fingerprint(cmd: commands.Enroll) -> dict:
    return {
        "talent_id": cmd.talent_id,
        "modality": cmd.modality.value,
        "samples": [hashlib.sha256(s.content).hexdigest() for s in cmd.samples],
        "notice": asdict(cmd.notice) if cmd.notice else None,
    }


async def enroll(
    cmd: commands.Enroll, actor: Principal, uow: EnrollmentUnitOfWork, engine: BiometricEngine, likeness: LikenessSearch,
    *, max_samples: int = 20,
) -> tuple[Enrollment, list[SampleOutcome], list[Similar]]:
    """Analyse the samples, search them 1:N against every other talent, store the templates. A
    match at Verify's match threshold opens a likeness dispute and holds the enrollment (DISPUTED);
    review-band similarity comes back as a warning. Inside the writing transaction, under a lock
    that enrollments of one modality take in turn until they commit, the search is completed
    against whatever committed since it ran (the index caught up first): of two concurrent
    enrollments of one face, the second to take the lock sees the first, and the disputes commit
    with the enrollment or not at all (no step after the commit that a cancelled call could skip).
    Returns the enrollment, the per-sample outcomes and the review-band similarities."""
    now = _now()
    cmd.validate(max_samples, now)
    operation = f"Enroll{cmd.modality.value.title()}"
    params = _fingerprint(cmd)
    async with uow:
        await _authorize(uow, actor, cmd.talent_id, now)
        if cmd.request_id and (prior := await uow.idempotency.recall(actor.principal_id, operation, cmd.request_id, params)):
            return await _replay(uow, prior)
        existing = await uow.templates.vectors(cmd.talent_id, cmd.modality)

    outcomes = await engine.analyze(cmd.modality, list(cmd.samples))
    good = [o for o in outcomes if o.accepted]
    ok, why = usable(cmd.modality, outcomes)
    if not ok:
        raise _rejected(cmd.modality, outcomes, why)
    offending = engine.disagreeing(cmd.modality, [o.embedding for o in good], existing)
    if offending:
        for i in offending:
            good[i].reject(INCONSISTENT, "does not look like the same person as the other samples"
                           + (" and the earlier enrollments" if existing else ""))  # fmt: skip
        names = ", ".join(good[i].filename or f"#{good[i].index}" for i in offending)
        raise InvalidArgument(
            f"samples look like different people: {names}",
            reason=INCONSISTENT,
            metadata={"offending": names},
            violations=[FieldViolation(_field(cmd.modality, o.index), f"{INCONSISTENT}: {o.filename}") for o in outcomes if o.rejection == INCONSISTENT],
        )

    model = engine.model(cmd.modality)
    assert cmd.notice is not None
    enrollment = Enrollment(
        enrollment_id=new_id("enr"),
        talent_id=cmd.talent_id,
        modality=cmd.modality,
        accepted_samples=len(good),
        rejected_samples=len(outcomes) - len(good),
        mean_quality=float(np.mean([o.quality for o in good])),
        model_name=model[0],
        model_version=model[1],
        notice=cmd.notice,
        enrolled_by=actor.principal_id,
        created_at=now,
        retain_until=now + cmd.notice.retention,
    )
    vectors = [o.embedding for o in good]
    similar, searched_at = await likeness.similar(cmd.modality, vectors, cmd.talent_id)
    async with uow:
        await _authorize(uow, actor, cmd.talent_id, _now())
        if cmd.request_id and (prior := await uow.idempotency.recall(actor.principal_id, operation, cmd.request_id, params)):
            return await _replay(uow, prior)  # a concurrent retry won the race
        await uow.enrollments.lock_likeness_check(cmd.modality)  # held until commit
        similar = _merged(similar, await likeness.similar_since(searched_at, cmd.modality, vectors, cmd.talent_id))
        await uow.enrollments.add(enrollment)
        await uow.templates.add(enrollment, vectors)
        everything = await uow.templates.vectors(cmd.talent_id, cmd.modality)
        await uow.templates.replace_centroid(cmd.talent_id, cmd.modality, model, centroid(cmd.modality, everything))
        uow.emit(events.Enrolled(enrollment, actor.principal_id))
        await _open_disputes(uow, enrollment, similar, actor.principal_id)
        if cmd.request_id:
            await uow.idempotency.remember(actor.principal_id, operation, cmd.request_id, params,
                                           {"enrollment_id": enrollment.enrollment_id, "results": [_result(o) for o in outcomes]})  # fmt: skip
        enrollment = await uow.enrollments.get(enrollment.enrollment_id) or enrollment  # its state and disputes, as committed
        await uow.commit()
    return enrollment, outcomes, [s for s in similar if not s.match]


def _merged(first: list[Similar], since: list[Similar]) -> list[Similar]:
    """The search's findings updated with the re-check's (a talent re-enrolled meanwhile may score higher)."""
    best = {s.talent_id: s for s in first}
    for s in since:
        if s.talent_id not in best or s.score > best[s.talent_id].score:
            best[s.talent_id] = s
    return sorted(best.values(), key=lambda s: (-s.score, s.talent_id))


async def _open_disputes(uow: EnrollmentUnitOfWork, enrollment: Enrollment, similar: list[Similar], actor_id: str) -> list[Dispute]:
    """A dispute per other talent matched at the match threshold, unless the pair was resolved as
    two people; the enrollment is held (DISPUTED) while any dispute of its talent and modality is
    open, a dispute the pair already had included (a second enrollment of the same face is held
    under it). Pairs are taken in talent-id order, so concurrent writers never deadlock."""
    opened, held = [], False
    for s in sorted((s for s in similar if s.match), key=lambda s: s.talent_id):
        if await uow.disputes.distinct(enrollment.talent_id, s.talent_id, enrollment.modality):
            continue
        held = True
        dispute = Dispute(new_id("dsp"), enrollment.modality, enrollment.talent_id, enrollment.enrollment_id, s.talent_id, s.score,
                          await uow.now())  # fmt: skip
        if await uow.disputes.add(dispute):
            opened.append(dispute)
            for key in dispute.talent_ids:
                uow.emit(events.DisputeOpened(dispute, key, actor_id))
    if held:
        await uow.enrollments.set_state([enrollment.enrollment_id], EnrollmentState.DISPUTED)
    return opened


def _field(modality: Modality, index: int) -> str:
    return f"{'images' if modality is Modality.FACE else 'clips'}[{index}]"


def _rejected(modality: Modality, outcomes: list[SampleOutcome], why: str) -> InvalidArgument:
    """No usable enrollment: the reason is the samples' common rejection when they share one."""
    reasons = {o.rejection for o in outcomes if not o.accepted}
    reason = reasons.pop() if len(reasons) == 1 else "NO_USABLE_SAMPLES"
    if modality is Modality.VOICE and all(o.accepted for o in outcomes):
        reason = "TOO_LITTLE_SPEECH"
    rejected = ", ".join(f"{o.filename or '#' + str(o.index)}: {o.rejection}" for o in outcomes if not o.accepted)
    return InvalidArgument(
        f"not enough usable samples ({rejected or 'none rejected'}): {why}",
        reason=reason,
        violations=[FieldViolation(_field(modality, o.index), f"{o.rejection}: {o.detail}") for o in outcomes if not o.accepted],
    )


def _result(o: SampleOutcome) -> dict:
    return {"index": o.index, "filename": o.filename, "accepted": o.accepted, "rejection": o.rejection,
            "detail": o.detail, "quality": o.quality, "speech_seconds": o.speech_seconds}  # fmt: skip


async def _replay(uow: EnrollmentUnitOfWork, prior: dict) -> tuple[Enrollment, list[SampleOutcome], list[Similar]]:
    enrollment = await uow.enrollments.get(prior["enrollment_id"])
    if enrollment is None:
        raise NotFound("that enrollment was erased")
    return enrollment, [SampleOutcome(**r) for r in prior["results"]], []


async def enrollment_status(talent_id: str, actor: Principal, uow: EnrollmentUnitOfWork) -> list[Enrollment]:
    if not is_id(talent_id, "tal"):
        require([FieldViolation("talent_id", "must be a tal_ id")])
    async with uow:
        await _authorize(uow, actor, talent_id, _now(), talent_may=True)
        return [e for e in await uow.enrollments.for_talent(talent_id) if e.erased_at is None]


async def erase(cmd: commands.Erase, actor: Principal, uow: EnrollmentUnitOfWork) -> tuple[int, datetime]:
    """Crypto-shred the talent's data key and delete every template."""
    v: list[FieldViolation] = []
    if not is_id(cmd.talent_id, "tal"):
        v.append(FieldViolation("talent_id", "must be a tal_ id"))
    if len(cmd.reason) > 500:
        v.append(FieldViolation("reason", "at most 500 characters"))
    require(v)
    now = _now()
    if actor.is_talent_self(cmd.talent_id) and not actor.identity_verified:
        raise PermissionDenied("erasing biometrics takes an identity-verified talent credential", reason="IDENTITY_NOT_VERIFIED")
    async with uow:
        await _authorize(uow, actor, cmd.talent_id, now, talent_may=True)
        if cmd.request_id and (prior := await uow.idempotency.recall(actor.principal_id, "Erase", cmd.request_id, asdict(cmd))):
            return prior["erased"], datetime.fromisoformat(prior["at"])
        erased, modalities = await uow.templates.erase_talent(cmd.talent_id)
        live = [e.enrollment_id for e in await uow.enrollments.for_talent(cmd.talent_id) if e.erased_at is None]
        await uow.enrollments.mark_erased(live, now)
        withdrawn_at = await uow.now()
        for modality in Modality:
            await _withdraw_orphaned(uow, cmd.talent_id, modality, withdrawn_at, actor.principal_id)
        uow.emit(events.BiometricsErased(cmd.talent_id, tuple(modalities), erased, cmd.reason or "erasure requested", actor.principal_id))
        if cmd.request_id:
            await uow.idempotency.remember(actor.principal_id, "Erase", cmd.request_id, asdict(cmd), {"erased": erased, "at": now.isoformat()})
        await uow.commit()
    return erased, now


async def sweep_retention(uow: EnrollmentUnitOfWork, engine_models: dict[Modality, tuple[str, str]], limit: int = 100) -> int:
    """Erase enrollments past retain_until; recompute or drop the centroid; shred the data key
    when nothing of the talent is left."""
    now = _now()
    async with uow:
        expired = await uow.enrollments.expired(now, limit)
        by_talent: dict[str, list[Enrollment]] = {}
        for e in expired:
            by_talent.setdefault(e.talent_id, []).append(e)
        for talent_id, items in by_talent.items():
            erased = await uow.templates.erase_enrollments(talent_id, [e.enrollment_id for e in items])
            await uow.enrollments.mark_erased([e.enrollment_id for e in items], now)
            modalities = sorted({e.modality for e in items})
            for modality in modalities:
                await _refresh_centroid(uow, talent_id, modality, engine_models[modality])
                await _withdraw_orphaned(uow, talent_id, modality, now, "system")
            uow.emit(events.BiometricsErased(talent_id, tuple(modalities), erased, "retention period ended", "system"))
        if expired:
            await uow.commit()
    return len(expired)


# --- likeness disputes ---------------------------------------------------------------------------


async def _represented(uow: EnrollmentUnitOfWork, actor: Principal, dispute: Dispute) -> set[str]:
    """The dispute's talent the caller speaks for: an agency's represented ones, a talent itself."""
    if actor.is_talent:
        return {t for t in dispute.talent_ids if actor.is_talent_self(t)}
    if not actor.is_agency:
        return set()
    now = await uow.now()
    return {t for t in dispute.talent_ids if await uow.parties.represents(actor.principal_id, t, now)}


def _as_seen_by(actor: Principal, dispute: Dispute, represented: set[str]) -> Dispute:
    """What an agency sees: the other side only as an opaque talent id (not its enrollment, not the
    score that would tell how alike the two are)."""
    if actor.is_operator:
        return dispute
    return dataclasses.replace(dispute, score=0.0, enrollment_id=dispute.enrollment_id if dispute.talent_id in represented else "")


async def get_dispute(dispute_id: str, actor: Principal, uow: EnrollmentUnitOfWork) -> Dispute:
    """Operators see every dispute; an agency those over talent it represents, a talent those over
    themselves (the other side is only an opaque talent id); platforms none."""
    if not is_id(dispute_id, "dsp"):
        raise NotFound(f"dispute {dispute_id[:40]!r} not found")
    async with uow:
        dispute = await uow.disputes.get(dispute_id)
        represented = await _represented(uow, actor, dispute) if dispute else set()
        if dispute is None or not (actor.is_operator or represented):
            raise NotFound(f"dispute {dispute_id} not found")  # never confirm others' ids
    return _as_seen_by(actor, dispute, represented)


async def list_disputes(talent_id: str, state: DisputeState | None, actor: Principal, uow: EnrollmentUnitOfWork, *,
                        after: str, limit: int) -> list[Dispute]:  # fmt: skip
    if talent_id and not is_id(talent_id, "tal"):
        require([FieldViolation("talent_id", "must be a tal_ id")])
    if not (actor.is_operator or actor.is_agency or actor.is_talent):
        raise PermissionDenied("disputes are listed by operators, agencies and the talent involved")
    if actor.is_talent and talent_id and not actor.is_talent_self(talent_id):
        raise PermissionDenied("a talent lists only the disputes over themselves")
    async with uow:
        if actor.is_operator:
            talent = [talent_id] if talent_id else None
        elif actor.is_talent:
            talent = [actor.principal_id]
        else:
            mine = await uow.parties.represented(actor.principal_id, await uow.now())
            if talent_id and talent_id not in mine:
                raise PermissionDenied(f"no active mandate over talent {talent_id}", reason="NO_MANDATE")
            talent = [talent_id] if talent_id else mine
            if not talent:
                return []
        found = await uow.disputes.involving(talent, state, after, limit)
    return [d if actor.is_operator else _as_seen_by(actor, d, set(talent) & set(d.talent_ids)) for d in found]


async def resolve_dispute(cmd: commands.ResolveDispute, actor: Principal, uow: EnrollmentUnitOfWork,
                          engine_models: dict[Modality, tuple[str, str]]) -> Dispute:  # fmt: skip
    """Operators only. SAME_PERSON_KEEP_EXISTING: the held enrollment is rejected, its templates
    deleted (every index drops them). SAME_PERSON_KEEP_NEW: the existing talent's live enrollments
    of the modality are rejected and deleted, the held one is released. DISTINCT_PEOPLE: the held
    enrollment is released and the pair never disputed again. Released: ACTIVE once no other
    dispute holds it."""
    v: list[FieldViolation] = []
    check_request_id(cmd.request_id, v)
    if not is_id(cmd.dispute_id, "dsp"):
        v.append(FieldViolation("dispute_id", "must be a dsp_ id"))
    if cmd.resolution is None or cmd.resolution is Resolution.WITHDRAWN:
        v.append(FieldViolation("resolution", "name a resolution: SAME_PERSON_KEEP_EXISTING, SAME_PERSON_KEEP_NEW or DISTINCT_PEOPLE"))
    if len(cmd.note) > 2000:
        v.append(FieldViolation("note", "at most 2000 characters"))
    require(v)
    if not actor.is_operator:
        raise PermissionDenied("only an operator resolves likeness disputes", reason="OPERATOR_ONLY")
    async with uow:
        dispute = await uow.disputes.get(cmd.dispute_id, for_update=True)
        if dispute is None:
            raise NotFound(f"dispute {cmd.dispute_id} not found")
        if dispute.state is DisputeState.RESOLVED:
            if dispute.resolution is cmd.resolution:
                return dispute  # a retry
            raise FailedPrecondition(f"dispute {dispute.dispute_id} is already resolved ({dispute.resolution.value})",
                                     reason="ALREADY_RESOLVED")  # fmt: skip
        now = await uow.now()
        assert cmd.resolution is not None
        dispute.resolve(cmd.resolution, cmd.note.strip(), now, actor.principal_id)
        await uow.disputes.save(dispute)  # before the rejections and releases below, which look for disputes still open
        reason = f"likeness dispute {dispute.dispute_id} resolved {cmd.resolution.value}"
        held = await _live(uow, dispute.talent_id, dispute.modality, lock=True)  # resolutions of one talent take turns
        if cmd.resolution is Resolution.SAME_PERSON_KEEP_EXISTING:
            await _reject(uow, dispute.talent_id, dispute.modality, [e.enrollment_id for e in held], now, engine_models, reason,
                          actor.principal_id)  # fmt: skip
        else:
            if cmd.resolution is Resolution.SAME_PERSON_KEEP_NEW:
                theirs = [e.enrollment_id for e in await _live(uow, dispute.existing_talent_id, dispute.modality)]
                await _reject(uow, dispute.existing_talent_id, dispute.modality, theirs, now, engine_models, reason, actor.principal_id)
            else:
                await uow.disputes.remember_distinct(dispute.talent_id, dispute.existing_talent_id, dispute.modality)
            await _release(uow, dispute.talent_id, dispute.modality, held)
        _announce_resolved(uow, dispute, actor.principal_id)
        await uow.commit()
    return dispute


async def _live(uow: EnrollmentUnitOfWork, talent_id: str, modality: Modality, *, lock: bool = False) -> list[Enrollment]:
    """The talent's enrollments of the modality that are not erased (row-locked with `lock`)."""
    return [e for e in await uow.enrollments.for_talent(talent_id, for_update=lock) if e.modality is modality and e.erased_at is None]


async def _release(uow: EnrollmentUnitOfWork, talent_id: str, modality: Modality, enrollments: list[Enrollment]) -> None:
    """Held enrollments become ACTIVE once no dispute over the talent's likeness in that modality is open."""
    if not await uow.disputes.open_for_talent(talent_id, modality):
        await uow.enrollments.set_state([e.enrollment_id for e in enrollments if e.state is EnrollmentState.DISPUTED], EnrollmentState.ACTIVE)


async def _reject(uow: EnrollmentUnitOfWork, talent_id: str, modality: Modality, enrollment_ids: list[str], now: datetime,
                  engine_models: dict[Modality, tuple[str, str]], reason: str, actor_id: str) -> None:  # fmt: skip
    """Delete these enrollments' templates (the data key stays: the talent may have others),
    recompute the centroid, and tell every index (BiometricsErased reloads the talent)."""
    if not enrollment_ids:
        return
    erased = await uow.templates.erase_enrollments(talent_id, enrollment_ids)
    await uow.enrollments.mark_erased(enrollment_ids, now)
    await uow.enrollments.set_state(enrollment_ids, EnrollmentState.REJECTED)
    await _refresh_centroid(uow, talent_id, modality, engine_models[modality])
    uow.emit(events.BiometricsErased(talent_id, (modality,), erased, reason, actor_id))
    await _withdraw_orphaned(uow, talent_id, modality, now, actor_id)


async def _refresh_centroid(uow: EnrollmentUnitOfWork, talent_id: str, modality: Modality, model: tuple[str, str]) -> None:
    """The per-modality centroid of the sample templates left (none left: no centroid)."""
    left = await uow.templates.vectors(talent_id, modality)
    await uow.templates.replace_centroid(talent_id, modality, model, centroid(modality, left) if left else None)


def _announce_resolved(uow: EnrollmentUnitOfWork, dispute: Dispute, actor_id: str) -> None:
    """Tell both sides: one DisputeResolved per talent, keyed by it."""
    for key in dispute.talent_ids:
        uow.emit(events.DisputeResolved(dispute, key, actor_id))


async def _withdraw_orphaned(uow: EnrollmentUnitOfWork, talent_id: str, modality: Modality, now: datetime, actor_id: str) -> None:
    """A talent left with no live enrollment in a modality (erased, swept, rejected) has no likeness
    there to dispute: its open disputes in that modality end WITHDRAWN, and the other side's held
    enrollments are released once nothing else holds them (an erased record never keeps another
    talent's Verify in REVIEW)."""
    if await _live(uow, talent_id, modality):
        return
    for d in await uow.disputes.open_for_talent(talent_id, modality):
        d.resolve(Resolution.WITHDRAWN, f"withdrawn: {talent_id} has no {modality.value.lower()} templates left", now, actor_id)
        await uow.disputes.save(d)
        _announce_resolved(uow, d, actor_id)
        other = d.existing_talent_id if d.talent_id == talent_id else d.talent_id
        await _release(uow, other, modality, await _live(uow, other, modality))
