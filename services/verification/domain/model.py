"""Verification rules, free of I/O: from probe hits to per-talent matches, and from matches plus
consent verdicts to ALLOW / DENY / NO_MATCH / REVIEW; the signed receipt's canonical payload."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from likeness_common.documents import RECEIPT_TYPE


class Modality(str, enum.Enum):
    FACE = "FACE"
    VOICE = "VOICE"


class Decision(str, enum.Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    NO_MATCH = "NO_MATCH"
    REVIEW = "REVIEW"


@dataclass(frozen=True)
class Thresholds:
    """Per modality: a score at or above `match` is a match, one in [review, match) is REVIEW
    evidence. Scores are "higher is closer": face 1 - dlib distance, voice cosine. Defaults from
    bench/accuracy on ../shared/data (README, "Calibration")."""

    face_match: float = 0.50  # dlib distance <= 0.50 (genuine max 0.45, impostor min 0.66 measured)
    face_review: float = 0.40  # distance <= 0.60, dlib's usual tolerance
    voice_match: float = 0.84
    voice_review: float = 0.75

    def match(self, modality: Modality) -> float:
        return self.face_match if modality is Modality.FACE else self.voice_match

    def review(self, modality: Modality) -> float:
        return self.face_review if modality is Modality.FACE else self.voice_review

    def as_dict(self) -> dict[str, str]:
        return {k: f"{v:.4f}" for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Location:
    """Where in the clip: seconds (0 for images), the sampled frame, the face box (top, right, bottom, left)."""

    start_s: float = 0.0
    end_s: float = 0.0
    frame_index: int = 0
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class Probe:
    """One face or one speech window found in the clip (the embedding stays out of repr and logs)."""

    modality: Modality
    location: Location
    vector: object = field(repr=False)


@dataclass(frozen=True)
class ProbeHit:
    probe: Probe
    talent_id: str
    score: float


@dataclass(frozen=True)
class Match:
    talent_id: str
    modality: Modality
    score: float
    location: Location
    in_review_band: bool
    grant_id: str = ""
    denial: str = ""  # a consent DenialReason name, empty when covered


@dataclass(frozen=True)
class ConsentVerdict:
    allowed: bool
    grant_ids: tuple[str, ...] = ()
    denial: str = ""
    detail: str = ""
    conditions: tuple[tuple[str, str], ...] = ()


def best_matches(hits: list[ProbeHit], thresholds: Thresholds) -> list[Match]:
    """One match per (talent, modality): the best-scoring evidence, if it reaches the review band."""
    best: dict[tuple[str, Modality], ProbeHit] = {}
    for hit in hits:
        key = (hit.talent_id, hit.probe.modality)
        if hit.score >= thresholds.review(hit.probe.modality) and (key not in best or hit.score > best[key].score):
            best[key] = hit
    return sorted(
        (
            Match(h.talent_id, h.probe.modality, round(h.score, 4), h.probe.location, h.score < thresholds.match(h.probe.modality))
            for h in best.values()
        ),
        key=lambda m: (m.talent_id, m.modality.value),
    )


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    matches: list[Match]
    grant_ids: list[str]
    conditions: list[tuple[str, str]]


def decide(matches: list[Match], verdicts: dict[tuple[str, Modality], ConsentVerdict]) -> Outcome:
    """ALLOW: every matched talent is covered for the modality it was found in. DENY: a confirmed
    match (above the match threshold) is not covered. REVIEW: the only uncovered evidence is in the
    review band. NO_MATCH: nothing reached the review band."""
    if not matches:
        return Outcome(Decision.NO_MATCH, [], [], [])
    annotated, grant_ids, conditions = [], [], []
    denied = review = False
    for m in matches:
        v = verdicts[(m.talent_id, m.modality)]
        if v.allowed:
            annotated.append(_with(m, grant_id=v.grant_ids[0] if v.grant_ids else ""))
            grant_ids += [g for g in v.grant_ids if g not in grant_ids]
            conditions += [c for c in v.conditions if c not in conditions]
        else:
            annotated.append(_with(m, denial=v.denial or "NO_GRANT"))
            if m.in_review_band:
                review = True
            else:
                denied = True
    decision = Decision.DENY if denied else Decision.REVIEW if review else Decision.ALLOW
    return Outcome(decision, annotated, grant_ids, conditions)


def _with(m: Match, **changes: str) -> Match:
    return Match(**{**m.__dict__, **changes})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class VerificationRecord:
    """Everything the receipt binds. Floats are written as fixed-point strings (canonical JSON has none)."""

    verification_id: str
    receipt_id: str
    request_id: str
    platform_id: str
    media_sha256: str
    media_type: str
    media_bytes: int
    frames: int  # video frames (or 1 image) analysed; 0 for audio
    purpose: str
    custom_purpose: str
    territory: str
    decision: Decision
    matches: list[Match]
    grant_ids: list[str]
    conditions: list[tuple[str, str]]
    models: dict[str, str]
    thresholds: Thresholds
    consistency_token: str
    decided_at: datetime

    def receipt_payload(self, key_id: str) -> dict:
        return {
            "version": RECEIPT_TYPE,
            "key_id": key_id,
            "receipt_id": self.receipt_id,
            "verification_id": self.verification_id,
            "request_id": self.request_id,
            "issued_at": _iso(self.decided_at),
            "platform_id": self.platform_id,
            "media": {"sha256": self.media_sha256, "type": self.media_type, "bytes": self.media_bytes, "frames": self.frames},
            "use": {"purpose": self.purpose, "custom_purpose": self.custom_purpose, "territory": self.territory},
            "decision": self.decision.value,
            "matches": [_match_doc(m) for m in self.matches],
            "grant_ids": list(self.grant_ids),
            "conditions": [{"kind": k, "value": v} for k, v in self.conditions],
            "models": dict(self.models),
            "thresholds": self.thresholds.as_dict(),
            "consistency_token": self.consistency_token,
        }


def _match_doc(m: Match) -> dict:
    loc = m.location
    doc = {
        "talent_id": m.talent_id,
        "modality": m.modality.value,
        "score": f"{m.score:.4f}",
        "in_review_band": m.in_review_band,
        "start_s": f"{loc.start_s:.3f}",
        "end_s": f"{loc.end_s:.3f}",
        "frame_index": loc.frame_index,
        "grant_id": m.grant_id,
        "denial": m.denial,
    }
    if loc.box is not None:
        doc["face_box"] = {"top": loc.box[0], "right": loc.box[1], "bottom": loc.box[2], "left": loc.box[3]}
    return doc


def record_from_receipt(doc: dict) -> VerificationRecord:
    """The record a receipt payload binds (the stored receipt is the verification's only copy)."""
    media, use = doc["media"], doc["use"]
    return VerificationRecord(
        verification_id=doc["verification_id"],
        receipt_id=doc["receipt_id"],
        request_id=doc["request_id"],
        platform_id=doc["platform_id"],
        media_sha256=media["sha256"],
        media_type=media["type"],
        media_bytes=media["bytes"],
        frames=media["frames"],
        purpose=use["purpose"],
        custom_purpose=use["custom_purpose"],
        territory=use["territory"],
        decision=Decision(doc["decision"]),
        matches=[_match_from(m) for m in doc["matches"]],
        grant_ids=list(doc["grant_ids"]),
        conditions=[(c["kind"], c["value"]) for c in doc["conditions"]],
        models=dict(doc["models"]),
        thresholds=Thresholds(**{k: float(v) for k, v in doc["thresholds"].items()}),
        consistency_token=doc["consistency_token"],
        decided_at=datetime.fromisoformat(doc["issued_at"]),
    )


def _match_from(doc: dict) -> Match:
    box = doc.get("face_box")
    return Match(
        talent_id=doc["talent_id"],
        modality=Modality(doc["modality"]),
        score=float(doc["score"]),
        location=Location(float(doc["start_s"]), float(doc["end_s"]), doc["frame_index"],
                          (box["top"], box["right"], box["bottom"], box["left"]) if box else None),  # fmt: skip
        in_review_band=doc["in_review_band"],
        grant_id=doc["grant_id"],
        denial=doc["denial"],
    )
