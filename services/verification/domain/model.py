"""Verification rules, free of I/O: from probe hits to per-talent matches, and from matches plus
consent verdicts to ALLOW / DENY / NO_MATCH / REVIEW; the signed receipt's canonical payload."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from likeness_common.documents import RECEIPT_TYPE
from likeness_common.modality import Modality

from .calibration import ImpostorTail, PopulationRule


class Decision(str, enum.Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    NO_MATCH = "NO_MATCH"
    REVIEW = "REVIEW"


class ReviewReason(str, enum.Enum):
    REVIEW_BAND = "REVIEW_BAND"  # uncovered evidence scored in the review band, none above the match threshold
    INCOMPLETE_COVERAGE = "INCOMPLETE_COVERAGE"  # part of the clip was not analysed: never ALLOW, never NO_MATCH
    POOR_AUDIO = "POOR_AUDIO"  # speech too degraded (telephone band, loud noise) for the voice model to tell speakers apart
    LIKENESS_DISPUTE = "LIKENESS_DISPUTE"  # a matched talent's likeness is disputed: whose consent counts is not settled
    # The deployment requires identity-verified talent and the ALLOW would rest on an unverified talent's grant.
    TALENT_IDENTITY_NOT_VERIFIED = "TALENT_IDENTITY_NOT_VERIFIED"
    SHORT_SPEECH = "SHORT_SPEECH"  # some speech, too little to tell whose voice it is (under poor_audio_speech_s)


# Receipt payload schema: 1 (no coverage), 2 (coverage, review_reasons), 3 (each match's dispute_id),
# 4 (each match's talent_identity_verified; the require_identity_verified policy), 5 (a match judged
# by its normalized score carries the raw one too; the normalized thresholds and the cohort, when in
# force), 6 (the duration rule's thresholds; each voice match's speech seconds), 7 (the clip's own C2PA
# manifest as read, when it had one). Fields are only ever added.
RECEIPT_SCHEMA = 9


@dataclass(frozen=True)
class Thresholds:
    """Per modality: a score at or above `match` is a match, one in [review, match) is REVIEW
    evidence. Scores are "higher is closer": face 1 - dlib distance, voice cosine. bench/accuracy
    and bench/robustness measure these exact rules (README, "Calibration"); calibrating them per
    talent and per probe quality is issue 18's."""

    face_match: float = 0.50  # dlib distance <= 0.50 (bench/accuracy: genuine score >= 0.547, impostor <= 0.352)
    face_review: float = 0.40  # distance <= 0.60, dlib's usual tolerance
    voice_match: float = 0.84  # a speaker's mean (bench/accuracy: impostor max 0.826; 13 % of genuine held-out utterances below)
    voice_review: float = 0.75  # (14 % of unenrolled LibriSpeech readers land in this band against 10 talents)
    # One ~2 s speech window on its own (a cameo inside someone else's narration): windows score
    # lower and spread wider than a speaker's mean, so they have their own pair. bench/robustness
    # (2008 impostor clips, 10,873 windows): the highest impostor window 0.837; at 0.80, 0.5 % of
    # impostor clips have a window in the band and 82 % of 3 s cameos reach it.
    voice_window_match: float = 0.85
    voice_window_review: float = 0.80
    # Speech the voice model cannot judge (bench/robustness: telephone-band and 10 dB-SNR speech of
    # enrolled readers scored a median 0.66-0.72, below impostors' best): with at least
    # `poor_audio_speech_s` of it, neither ALLOW nor NO_MATCH is signed (REVIEW, POOR_AUDIO).
    # Measured estimates: pink noise mixed at 10 dB reads 6-12.6 dB (median 9.7); the 251
    # train-clean-100 readers 0.2-31 dB (2.8 % under 10 dB), 3.2 % of them band-limited.
    poor_audio_snr_db: float = 10.0  # speech vs the rest of the track
    poor_audio_high_band: float = 0.001  # share of speech energy above 3.6 kHz (telephone band: 0)
    poor_audio_speech_s: float = 1.0  # (and under it, some speech is too short to judge: REVIEW, SHORT_SPEECH)
    # With a score-normalization cohort (calibration.CohortNorm; off when None): a speaker's mean is
    # judged by its normalized score z (cohort standard deviations above a stranger), not its raw
    # cosine; single windows keep their raw pair. From bench/calibration's disjoint splits (README).
    voice_norm_match: float | None = None
    voice_norm_review: float | None = None
    # Duration (issue 18): a voice probe over less speech than this cannot confirm a match on its
    # own, only be REVIEW evidence (bench/calibration: every clean genuine clip the z rule misses has
    # under 3 s of speech; a speaker's mean over less than one window is no more than a window).
    voice_mean_confirm_speech_s: float = 2.0
    voice_window_confirm_speech_s: float = 1.0
    # The population these levels were raised for (`for_population`; receipt schema 9): templates
    # per modality searched, and the reference size the configured levels hold for.
    population_face: int | None = None
    population_voice: int | None = None
    population_reference: int | None = None

    def for_population(self, templates: dict[Modality, int], rule: PopulationRule) -> Thresholds:
        """These thresholds for a search over `templates` per modality: each level raised so that
        the expected number of strangers' templates reaching it per probe stays what it is at the
        rule's reference size (calibration.PopulationRule); unchanged up to that size."""
        face, voice = templates.get(Modality.FACE, 0), templates.get(Modality.VOICE, 0)

        def up(level: float | None, tail: ImpostorTail, n: int) -> float | None:
            return None if level is None else rule.raised(level, tail, n)

        return replace(
            self, face_match=up(self.face_match, rule.face, face), face_review=up(self.face_review, rule.face, face),
            voice_match=up(self.voice_match, rule.voice, voice), voice_review=up(self.voice_review, rule.voice, voice),
            voice_window_match=up(self.voice_window_match, rule.voice, voice),
            voice_window_review=up(self.voice_window_review, rule.voice, voice),
            voice_norm_match=up(self.voice_norm_match, rule.voice_norm, voice),
            voice_norm_review=up(self.voice_norm_review, rule.voice_norm, voice),
            population_face=face, population_voice=voice, population_reference=rule.reference,
        )  # fmt: skip

    def templates(self, modality: Modality) -> int | None:
        return self.population_face if modality is Modality.FACE else self.population_voice

    def poor_audio(self, coverage: Coverage) -> bool:
        return (coverage.audio_track and coverage.speech_seconds >= self.poor_audio_speech_s
                and (coverage.speech_snr_db < self.poor_audio_snr_db or coverage.speech_high_band_share < self.poor_audio_high_band))  # fmt: skip

    def short_speech(self, coverage: Coverage) -> bool:
        """Speech enough to embed (a window: 0.3 s or more), too little for the voice model to say
        whose it is. (Blips of a few frames in hiss embed nothing: no voice, not short speech.)"""
        return coverage.audio_track and coverage.voice_windows > 0 and coverage.speech_seconds < self.poor_audio_speech_s

    def can_confirm(self, probe: Probe) -> bool:
        """Is there enough speech behind a voice probe for it to confirm a match (faces: always)?"""
        if probe.modality is not Modality.VOICE or probe.speech_s is None:
            return True
        return probe.speech_s >= (self.voice_window_confirm_speech_s if probe.window else self.voice_mean_confirm_speech_s)

    def match(self, modality: Modality, window: bool = False, normalized: bool = False) -> float:
        if modality is Modality.FACE:
            return self.face_match
        if normalized:
            return self.voice_norm_match
        return self.voice_window_match if window else self.voice_match

    def review(self, modality: Modality, window: bool = False, normalized: bool = False) -> float:
        if modality is Modality.FACE:
            return self.face_review
        if normalized:
            return self.voice_norm_review
        return self.voice_window_review if window else self.voice_review

    def search_floor(self) -> dict[Modality, float]:
        """The raw score the 1:N search keeps hits from, per modality: the lower review threshold of
        a speaker's mean and a single window (a normalized search sets its own, see LikenessIndex)."""
        return {m: min(self.review(m), self.review(m, window=True)) for m in Modality}

    def as_dict(self, schema: int = RECEIPT_SCHEMA) -> dict[str, str]:
        """For the receipt: the normalized pair only when in force, and no field newer than the
        receipt's schema (a receipt read back re-serializes to the same bytes)."""
        return {k: str(v) if k in _THRESHOLD_COUNTS else f"{v:.4f}" for k, v in self.__dict__.items()
                if v is not None and _THRESHOLD_SINCE.get(k, 1) <= schema}  # fmt: skip


_THRESHOLD_SINCE = {"voice_mean_confirm_speech_s": 6, "voice_window_confirm_speech_s": 6,  # receipt schema that added them
                    "population_face": 9, "population_voice": 9, "population_reference": 9}
_THRESHOLD_COUNTS = frozenset({"population_face", "population_voice", "population_reference"})  # integers, not scores


@dataclass(frozen=True)
class Coverage:
    """What the analysis saw of the clip, and whether that is all of it.

    Complete when every sample at the configured rate was analysed or skipped under the skip rule
    (`skip_rule`), no packet failed to decode, no stream ended early, no shot cut went unsampled,
    and no stretch of the clip longer than `max_gap_allowed_s` went without a covered sample.
    Stills: one frame; audio: no frames."""

    media_seconds: float = 0.0
    sample_fps: float = 0.0  # video grid samples per second (0: still image or audio only)
    frames_in_clip: int = 0  # decoded video frames (1 for a still)
    frames_sampled: int = 0  # grid samples and shot-cut samples
    frames_analyzed: int = 0
    frames_skipped_unchanged: int = 0  # provably unchanged since the last analysed frame
    skip_rule: str = ""
    max_gap_s: float = 0.0  # longest stretch without a covered sample (analysed or skipped by the rule)
    max_gap_allowed_s: float = 0.0
    max_analyzed_gap_s: float = 0.0  # longest stretch between analysed frames (informative)
    audio_track: bool = False
    audio_seconds: float = 0.0  # decoded
    speech_seconds: float = 0.0
    voice_windows: int = 0  # speech windows embedded, each searched on its own
    speech_snr_db: float = 0.0  # speech vs the rest of the track
    speech_high_band_share: float = 0.0  # share of the speech energy above 3.6 kHz (0: telephone band)
    decode_errors: tuple[str, ...] = ()
    video_truncated: bool = False  # frames end before the declared duration
    audio_truncated: bool = False
    cuts_unsampled: int = 0

    @property
    def incomplete_reasons(self) -> tuple[str, ...]:
        reasons = []
        if self.decode_errors:
            reasons.append("DECODE_ERRORS")
        if self.frames_sampled != self.frames_analyzed + self.frames_skipped_unchanged:
            reasons.append("SAMPLES_UNACCOUNTED")
        if self.sample_fps > 0 and self.max_gap_s > self.max_gap_allowed_s + 1e-3:
            reasons.append("GAP_OVER_MAXIMUM")
        if self.video_truncated:
            reasons.append("VIDEO_TRUNCATED")
        if self.audio_truncated:
            reasons.append("AUDIO_TRUNCATED")
        if self.cuts_unsampled:
            reasons.append("CUTS_UNSAMPLED")
        return tuple(reasons)

    @property
    def complete(self) -> bool:
        return not self.incomplete_reasons


@dataclass(frozen=True)
class IncomingProvenance:
    """The C2PA manifest the clip arrived with, as read and validated (issue 15): recorded as
    evidence, never grounds for a decision (a manifest can be stripped or forged)."""

    state: str  # "Valid", "Trusted" or "Invalid"
    failures: tuple[str, ...] = ()
    signer: str = ""
    claim_generator: str = ""
    digital_source_types: tuple[str, ...] = ()
    training_mining: tuple[str, ...] = ()  # "use=value"

    def as_doc(self) -> dict:
        return {"state": self.state, "failures": list(self.failures), "signer": self.signer, "claim_generator": self.claim_generator,
                "digital_source_types": list(self.digital_source_types), "training_mining": list(self.training_mining)}  # fmt: skip

    @classmethod
    def from_doc(cls, doc: dict) -> IncomingProvenance:
        return cls(doc["state"], tuple(doc["failures"]), doc["signer"], doc["claim_generator"], tuple(doc["digital_source_types"]),
                   tuple(doc["training_mining"]))  # fmt: skip


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
    window: bool = False  # one speech window on its own (not a speaker's mean)
    speech_s: float | None = None  # voice: seconds of speech behind it (None: not measured, no duration rule)


@dataclass(frozen=True)
class ProbeHit:
    probe: Probe
    talent_id: str
    score: float  # normalized when `raw_score` is set (a speaker's mean under a cohort), else raw
    raw_score: float | None = None


@dataclass(frozen=True)
class Match:
    talent_id: str
    modality: Modality
    score: float
    location: Location
    in_review_band: bool
    grant_id: str = ""
    denial: str = ""  # a consent DenialReason name, empty when covered
    dispute_id: str = ""  # an open likeness dispute over this talent and modality
    talent_identity_verified: bool = False  # an operator checked this talent's identity
    raw_score: float | None = None  # the cosine behind a normalized `score` (None: `score` is raw)
    speech_s: float | None = None  # voice: seconds of speech behind the deciding probe
    # The calibrated meaning of `score` (schema 9): strangers' templates, among those searched,
    # expected to score at least this against the probe (calibration.PopulationRule)
    impostors: float | None = None


def with_impostors(matches: list[Match], thresholds: Thresholds, rule: PopulationRule) -> list[Match]:
    """Each match with its expected number of impostor templates at its score (`Match.impostors`),
    over the population `thresholds` were raised for."""
    out = []
    for m in matches:
        templates = thresholds.templates(m.modality)
        if templates is None:
            out.append(m)
            continue
        tail = rule.tail(m.modality is Modality.FACE, normalized=m.raw_score is not None)
        out.append(replace(m, impostors=rule.expected_impostors(m.score, tail, templates)))
    return out


@dataclass(frozen=True)
class ConsentVerdict:
    allowed: bool
    grant_ids: tuple[str, ...] = ()
    denial: str = ""
    detail: str = ""
    conditions: tuple[tuple[str, str], ...] = ()


def best_matches(hits: list[ProbeHit], thresholds: Thresholds) -> list[Match]:
    """One match per (talent, modality): the strongest evidence that reaches its review band, a
    probe at or above its match threshold before any in the band (a speaker's mean and a single
    window have their own thresholds, so their raw scores are compared within each tier)."""
    best: dict[tuple[str, Modality], tuple[bool, bool, float, ProbeHit]] = {}
    for hit in hits:
        p, normalized = hit.probe, hit.raw_score is not None
        if hit.score < thresholds.review(p.modality, p.window, normalized):
            continue
        key = (hit.talent_id, p.modality)
        confirmed = hit.score >= thresholds.match(p.modality, p.window, normalized) and thresholds.can_confirm(p)
        # A confirmed match first; then a normalized score (calibrated) before a raw one.
        rank = (confirmed, normalized, hit.score, hit)
        if key not in best or rank[:3] > best[key][:3]:
            best[key] = rank
    return sorted(
        (Match(h.talent_id, h.probe.modality, round(h.score, 4), h.probe.location, not confirmed,
               raw_score=None if h.raw_score is None else round(h.raw_score, 4), speech_s=h.probe.speech_s)
         for confirmed, _, _, h in best.values()),
        key=lambda m: (m.talent_id, m.modality.value),
    )  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    matches: list[Match]
    grant_ids: list[str]
    conditions: list[tuple[str, str]]
    review_reasons: tuple[ReviewReason, ...] = ()


def decide(matches: list[Match], verdicts: dict[tuple[str, Modality], ConsentVerdict], coverage: Coverage,
           thresholds: Thresholds | None = None, disputes: dict[tuple[str, Modality], str] | None = None, *,
           identity_verified: frozenset[str] | set[str] = frozenset(), require_identity_verified: bool = False) -> Outcome:  # fmt: skip
    """ALLOW: every matched talent is covered for the modality it was found in, and the analysis
    covered the whole clip. DENY: a confirmed match (above the match threshold) is not covered
    (whatever else: what was seen already denies). REVIEW: the only uncovered evidence is in the
    review band; or the coverage is incomplete (what was not seen may hold anyone); or the speech is
    too degraded or too short for the voice model (a voice it cannot tell apart may be anyone's):
    in the last three cases neither ALLOW nor NO_MATCH can be signed; or a matched talent's likeness is under an
    open dispute (`disputes`: (talent, modality) -> dispute id), named on its match: two records
    claim one face or voice, so whose consent counts is not settled. NO_MATCH: nothing reached the
    review band in a complete analysis of usable media.
    Each match says whether its talent is in `identity_verified`; with `require_identity_verified`,
    a covering grant of an unverified talent cannot carry an ALLOW (REVIEW)."""
    disputes = disputes or {}
    matches = [_with(m, dispute_id=disputes.get((m.talent_id, m.modality), ""), talent_identity_verified=m.talent_id in identity_verified)
               for m in matches]  # fmt: skip
    outcome = _decide_seen(matches, verdicts)
    if outcome.decision is Decision.DENY:
        return outcome
    reasons = list(outcome.review_reasons)
    if any(m.dispute_id for m in outcome.matches):
        reasons.append(ReviewReason.LIKENESS_DISPUTE)
    if require_identity_verified and any(m.grant_id and not m.talent_identity_verified for m in outcome.matches):
        reasons.append(ReviewReason.TALENT_IDENTITY_NOT_VERIFIED)
    if not coverage.complete:
        reasons.append(ReviewReason.INCOMPLETE_COVERAGE)
    thresholds = thresholds or Thresholds()
    if thresholds.poor_audio(coverage):
        reasons.append(ReviewReason.POOR_AUDIO)
    if thresholds.short_speech(coverage):
        reasons.append(ReviewReason.SHORT_SPEECH)
    return replace(outcome, decision=Decision.REVIEW, review_reasons=tuple(reasons)) if reasons else outcome


def _decide_seen(matches: list[Match], verdicts: dict[tuple[str, Modality], ConsentVerdict]) -> Outcome:
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
    reasons = (ReviewReason.REVIEW_BAND,) if decision is Decision.REVIEW else ()
    return Outcome(decision, annotated, grant_ids, conditions, reasons)


def _with(m: Match, **changes: object) -> Match:
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
    coverage: Coverage | None = None  # None only in schema-1 receipts (before coverage was recorded)
    review_reasons: tuple[ReviewReason, ...] = ()
    require_identity_verified: bool = False  # the deployment's policy when it decided (schema 4)
    provenance: IncomingProvenance | None = None  # the clip's own C2PA manifest, as read (schema 7; None: it had none)
    c2pa_requested: bool = False  # the platform asked for the clip back signed (embed_c2pa; schema 8)
    schema: int = RECEIPT_SCHEMA

    def receipt_payload(self, key_id: str) -> dict:
        doc = {
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
            "matches": [_match_doc(m, self.schema) for m in self.matches],
            "grant_ids": list(self.grant_ids),
            "conditions": [{"kind": k, "value": v} for k, v in self.conditions],
            "models": dict(self.models),
            "thresholds": self.thresholds.as_dict(self.schema),
            "consistency_token": self.consistency_token,
        }
        if self.schema >= 2:
            doc["schema"] = self.schema
            doc["coverage"] = _coverage_doc(self.coverage or Coverage())
            doc["review_reasons"] = [r.value for r in self.review_reasons]
        if self.schema >= 4:
            doc["policy"] = {"require_identity_verified": self.require_identity_verified}
        if self.schema >= 7 and self.provenance is not None:
            doc["incoming_provenance"] = self.provenance.as_doc()
        if self.schema >= 8:
            doc["c2pa_requested"] = self.c2pa_requested
        return doc


_COVERAGE_FLOATS = ("media_seconds", "sample_fps", "max_gap_s", "max_gap_allowed_s", "max_analyzed_gap_s", "audio_seconds", "speech_seconds",
                    "speech_snr_db", "speech_high_band_share")  # fmt: skip
_COVERAGE_INTS = ("frames_in_clip", "frames_sampled", "frames_analyzed", "frames_skipped_unchanged", "voice_windows", "cuts_unsampled")
_COVERAGE_FLAGS = ("audio_track", "video_truncated", "audio_truncated")


def _coverage_doc(c: Coverage) -> dict:
    doc: dict = {"complete": c.complete, "incomplete_reasons": list(c.incomplete_reasons), "skip_rule": c.skip_rule,
                 "decode_errors": list(c.decode_errors)}  # fmt: skip
    doc |= {k: f"{getattr(c, k):.{5 if k == 'speech_high_band_share' else 3}f}" for k in _COVERAGE_FLOATS}
    doc |= {k: getattr(c, k) for k in _COVERAGE_INTS + _COVERAGE_FLAGS}
    return doc


def _coverage_from(doc: dict) -> Coverage:
    return Coverage(
        skip_rule=doc["skip_rule"],
        decode_errors=tuple(doc["decode_errors"]),
        **{k: float(doc[k]) for k in _COVERAGE_FLOATS},
        **{k: doc[k] for k in _COVERAGE_INTS + _COVERAGE_FLAGS},
    )


def _match_doc(m: Match, schema: int) -> dict:
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
    if schema >= 3:
        doc["dispute_id"] = m.dispute_id
    if schema >= 4:
        doc["talent_identity_verified"] = m.talent_identity_verified
    if schema >= 5 and m.raw_score is not None:
        doc["raw_score"] = f"{m.raw_score:.4f}"
    if schema >= 6 and m.speech_s is not None:
        doc["speech_s"] = f"{m.speech_s:.3f}"
    if schema >= 9 and m.impostors is not None:
        doc["impostors"] = f"{m.impostors:.3e}"
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
        thresholds=Thresholds(**{k: int(v) if k in _THRESHOLD_COUNTS else float(v) for k, v in doc["thresholds"].items() if k in _THRESHOLD_FIELDS}),
        consistency_token=doc["consistency_token"],
        decided_at=datetime.fromisoformat(doc["issued_at"]),
        coverage=_coverage_from(doc["coverage"]) if "coverage" in doc else None,
        review_reasons=tuple(ReviewReason(r) for r in doc.get("review_reasons", ())),
        require_identity_verified=doc.get("policy", {}).get("require_identity_verified", False),
        provenance=IncomingProvenance.from_doc(doc["incoming_provenance"]) if "incoming_provenance" in doc else None,
        c2pa_requested=doc.get("c2pa_requested", False),
        schema=int(doc.get("schema", 1)),
    )


_THRESHOLD_FIELDS = frozenset(Thresholds.__dataclass_fields__)


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
        dispute_id=doc.get("dispute_id", ""),
        talent_identity_verified=doc.get("talent_identity_verified", False),
        raw_score=float(doc["raw_score"]) if "raw_score" in doc else None,
        speech_s=float(doc["speech_s"]) if "speech_s" in doc else None,
        impostors=float(doc["impostors"]) if "impostors" in doc else None,
    )
