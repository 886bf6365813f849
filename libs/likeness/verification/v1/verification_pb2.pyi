import datetime

from google.longrunning import operations_pb2 as _operations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from likeness.consent.v1 import consent_pb2 as _consent_pb2
from likeness.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_DENY: _ClassVar[Decision]
    DECISION_NO_MATCH: _ClassVar[Decision]
    DECISION_REVIEW: _ClassVar[Decision]

class ReviewReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_REASON_UNSPECIFIED: _ClassVar[ReviewReason]
    REVIEW_REASON_REVIEW_BAND: _ClassVar[ReviewReason]
    REVIEW_REASON_INCOMPLETE_COVERAGE: _ClassVar[ReviewReason]
    REVIEW_REASON_POOR_AUDIO: _ClassVar[ReviewReason]
    REVIEW_REASON_LIKENESS_DISPUTE: _ClassVar[ReviewReason]
    REVIEW_REASON_TALENT_IDENTITY_NOT_VERIFIED: _ClassVar[ReviewReason]
    REVIEW_REASON_SHORT_SPEECH: _ClassVar[ReviewReason]
DECISION_UNSPECIFIED: Decision
DECISION_ALLOW: Decision
DECISION_DENY: Decision
DECISION_NO_MATCH: Decision
DECISION_REVIEW: Decision
REVIEW_REASON_UNSPECIFIED: ReviewReason
REVIEW_REASON_REVIEW_BAND: ReviewReason
REVIEW_REASON_INCOMPLETE_COVERAGE: ReviewReason
REVIEW_REASON_POOR_AUDIO: ReviewReason
REVIEW_REASON_LIKENESS_DISPUTE: ReviewReason
REVIEW_REASON_TALENT_IDENTITY_NOT_VERIFIED: ReviewReason
REVIEW_REASON_SHORT_SPEECH: ReviewReason

class Coverage(_message.Message):
    __slots__ = ("complete", "incomplete_reasons", "media_seconds", "sample_fps", "frames_in_clip", "frames_sampled", "frames_analyzed", "frames_skipped_unchanged", "skip_rule", "max_gap_seconds", "max_gap_allowed_seconds", "max_analyzed_gap_seconds", "audio_track", "audio_seconds", "speech_seconds", "voice_windows", "decode_errors", "speech_snr_db", "speech_high_band_share")
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_REASONS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FPS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_IN_CLIP_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_ANALYZED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SKIPPED_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    SKIP_RULE_FIELD_NUMBER: _ClassVar[int]
    MAX_GAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_GAP_ALLOWED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_ANALYZED_GAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_TRACK_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VOICE_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    DECODE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_SNR_DB_FIELD_NUMBER: _ClassVar[int]
    SPEECH_HIGH_BAND_SHARE_FIELD_NUMBER: _ClassVar[int]
    complete: bool
    incomplete_reasons: _containers.RepeatedScalarFieldContainer[str]
    media_seconds: float
    sample_fps: float
    frames_in_clip: int
    frames_sampled: int
    frames_analyzed: int
    frames_skipped_unchanged: int
    skip_rule: str
    max_gap_seconds: float
    max_gap_allowed_seconds: float
    max_analyzed_gap_seconds: float
    audio_track: bool
    audio_seconds: float
    speech_seconds: float
    voice_windows: int
    decode_errors: _containers.RepeatedScalarFieldContainer[str]
    speech_snr_db: float
    speech_high_band_share: float
    def __init__(self, complete: _Optional[bool] = ..., incomplete_reasons: _Optional[_Iterable[str]] = ..., media_seconds: _Optional[float] = ..., sample_fps: _Optional[float] = ..., frames_in_clip: _Optional[int] = ..., frames_sampled: _Optional[int] = ..., frames_analyzed: _Optional[int] = ..., frames_skipped_unchanged: _Optional[int] = ..., skip_rule: _Optional[str] = ..., max_gap_seconds: _Optional[float] = ..., max_gap_allowed_seconds: _Optional[float] = ..., max_analyzed_gap_seconds: _Optional[float] = ..., audio_track: _Optional[bool] = ..., audio_seconds: _Optional[float] = ..., speech_seconds: _Optional[float] = ..., voice_windows: _Optional[int] = ..., decode_errors: _Optional[_Iterable[str]] = ..., speech_snr_db: _Optional[float] = ..., speech_high_band_share: _Optional[float] = ...) -> None: ...

class VerifyParameters(_message.Message):
    __slots__ = ("request_id", "content_type", "purpose", "custom_purpose", "territory", "at_least_as_fresh", "embed_c2pa")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TERRITORY_FIELD_NUMBER: _ClassVar[int]
    AT_LEAST_AS_FRESH_FIELD_NUMBER: _ClassVar[int]
    EMBED_C2PA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    content_type: str
    purpose: _consent_pb2.Purpose
    custom_purpose: str
    territory: str
    at_least_as_fresh: str
    embed_c2pa: bool
    def __init__(self, request_id: _Optional[str] = ..., content_type: _Optional[str] = ..., purpose: _Optional[_Union[_consent_pb2.Purpose, str]] = ..., custom_purpose: _Optional[str] = ..., territory: _Optional[str] = ..., at_least_as_fresh: _Optional[str] = ..., embed_c2pa: _Optional[bool] = ...) -> None: ...

class SignedMedia(_message.Message):
    __slots__ = ("content", "media_type", "sidecar")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    media_type: str
    sidecar: bool
    def __init__(self, content: _Optional[bytes] = ..., media_type: _Optional[str] = ..., sidecar: _Optional[bool] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("parameters", "media")
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    parameters: VerifyParameters
    media: bytes
    def __init__(self, parameters: _Optional[_Union[VerifyParameters, _Mapping]] = ..., media: _Optional[bytes] = ...) -> None: ...

class VerifyStreamRequest(_message.Message):
    __slots__ = ("parameters", "chunk")
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    parameters: VerifyParameters
    chunk: bytes
    def __init__(self, parameters: _Optional[_Union[VerifyParameters, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class FaceBox(_message.Message):
    __slots__ = ("top", "right", "bottom", "left")
    TOP_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    BOTTOM_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    top: int
    right: int
    bottom: int
    left: int
    def __init__(self, top: _Optional[int] = ..., right: _Optional[int] = ..., bottom: _Optional[int] = ..., left: _Optional[int] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("talent_id", "modality", "score", "start_seconds", "end_seconds", "frame_index", "face_box", "in_review_band", "grant_id", "denial_reason", "dispute_id", "talent_identity_verified", "raw_score", "speech_seconds", "impostors")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FRAME_INDEX_FIELD_NUMBER: _ClassVar[int]
    FACE_BOX_FIELD_NUMBER: _ClassVar[int]
    IN_REVIEW_BAND_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    DENIAL_REASON_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    RAW_SCORE_FIELD_NUMBER: _ClassVar[int]
    SPEECH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    IMPOSTORS_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    modality: _enrollment_pb2.Modality
    score: float
    start_seconds: float
    end_seconds: float
    frame_index: int
    face_box: FaceBox
    in_review_band: bool
    grant_id: str
    denial_reason: _consent_pb2.DenialReason
    dispute_id: str
    talent_identity_verified: bool
    raw_score: float
    speech_seconds: float
    impostors: float
    def __init__(self, talent_id: _Optional[str] = ..., modality: _Optional[_Union[_enrollment_pb2.Modality, str]] = ..., score: _Optional[float] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., frame_index: _Optional[int] = ..., face_box: _Optional[_Union[FaceBox, _Mapping]] = ..., in_review_band: _Optional[bool] = ..., grant_id: _Optional[str] = ..., denial_reason: _Optional[_Union[_consent_pb2.DenialReason, str]] = ..., dispute_id: _Optional[str] = ..., talent_identity_verified: _Optional[bool] = ..., raw_score: _Optional[float] = ..., speech_seconds: _Optional[float] = ..., impostors: _Optional[float] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("receipt_id", "canonical_payload", "key_id", "algorithm", "signature")
    RECEIPT_ID_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    receipt_id: str
    canonical_payload: bytes
    key_id: str
    algorithm: str
    signature: bytes
    def __init__(self, receipt_id: _Optional[str] = ..., canonical_payload: _Optional[bytes] = ..., key_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Verification(_message.Message):
    __slots__ = ("verification_id", "platform_id", "decision", "matches", "grant_ids", "media_sha256", "decide_time", "receipt", "conditions", "consistency_token", "purpose", "custom_purpose", "territory", "media_type", "frames_analyzed", "coverage", "review_reasons", "incoming_provenance", "c2pa_requested")
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    GRANT_IDS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SHA256_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TERRITORY_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_ANALYZED_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASONS_FIELD_NUMBER: _ClassVar[int]
    INCOMING_PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    C2PA_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    verification_id: str
    platform_id: str
    decision: Decision
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    grant_ids: _containers.RepeatedScalarFieldContainer[str]
    media_sha256: str
    decide_time: _timestamp_pb2.Timestamp
    receipt: Receipt
    conditions: _containers.RepeatedCompositeFieldContainer[_consent_pb2.Condition]
    consistency_token: str
    purpose: _consent_pb2.Purpose
    custom_purpose: str
    territory: str
    media_type: str
    frames_analyzed: int
    coverage: Coverage
    review_reasons: _containers.RepeatedScalarFieldContainer[ReviewReason]
    incoming_provenance: IncomingProvenance
    c2pa_requested: bool
    def __init__(self, verification_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., grant_ids: _Optional[_Iterable[str]] = ..., media_sha256: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ..., conditions: _Optional[_Iterable[_Union[_consent_pb2.Condition, _Mapping]]] = ..., consistency_token: _Optional[str] = ..., purpose: _Optional[_Union[_consent_pb2.Purpose, str]] = ..., custom_purpose: _Optional[str] = ..., territory: _Optional[str] = ..., media_type: _Optional[str] = ..., frames_analyzed: _Optional[int] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ..., review_reasons: _Optional[_Iterable[_Union[ReviewReason, str]]] = ..., incoming_provenance: _Optional[_Union[IncomingProvenance, _Mapping]] = ..., c2pa_requested: _Optional[bool] = ...) -> None: ...

class IncomingProvenance(_message.Message):
    __slots__ = ("validation_state", "failures", "signer", "claim_generator", "digital_source_types", "training_mining")
    VALIDATION_STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    CLAIM_GENERATOR_FIELD_NUMBER: _ClassVar[int]
    DIGITAL_SOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    TRAINING_MINING_FIELD_NUMBER: _ClassVar[int]
    validation_state: str
    failures: _containers.RepeatedScalarFieldContainer[str]
    signer: str
    claim_generator: str
    digital_source_types: _containers.RepeatedScalarFieldContainer[str]
    training_mining: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, validation_state: _Optional[str] = ..., failures: _Optional[_Iterable[str]] = ..., signer: _Optional[str] = ..., claim_generator: _Optional[str] = ..., digital_source_types: _Optional[_Iterable[str]] = ..., training_mining: _Optional[_Iterable[str]] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("verification", "signed_media")
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    SIGNED_MEDIA_FIELD_NUMBER: _ClassVar[int]
    verification: Verification
    signed_media: SignedMedia
    def __init__(self, verification: _Optional[_Union[Verification, _Mapping]] = ..., signed_media: _Optional[_Union[SignedMedia, _Mapping]] = ...) -> None: ...

class VerifyStreamResponse(_message.Message):
    __slots__ = ("verification", "signed_media")
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    SIGNED_MEDIA_FIELD_NUMBER: _ClassVar[int]
    verification: Verification
    signed_media: SignedMedia
    def __init__(self, verification: _Optional[_Union[Verification, _Mapping]] = ..., signed_media: _Optional[_Union[SignedMedia, _Mapping]] = ...) -> None: ...

class VerifyStreamSignedResponse(_message.Message):
    __slots__ = ("answer", "chunk")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    answer: VerifyStreamResponse
    chunk: bytes
    def __init__(self, answer: _Optional[_Union[VerifyStreamResponse, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class VerifyOperationMetadata(_message.Message):
    __slots__ = ("state", "progress_percent", "create_time", "update_time", "end_time", "expire_time", "request_id", "media_sha256", "media_bytes", "media_seconds", "cancel_requested", "attempts")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[VerifyOperationMetadata.State]
        STATE_QUEUED: _ClassVar[VerifyOperationMetadata.State]
        STATE_RUNNING: _ClassVar[VerifyOperationMetadata.State]
        STATE_SUCCEEDED: _ClassVar[VerifyOperationMetadata.State]
        STATE_FAILED: _ClassVar[VerifyOperationMetadata.State]
        STATE_CANCELLED: _ClassVar[VerifyOperationMetadata.State]
    STATE_UNSPECIFIED: VerifyOperationMetadata.State
    STATE_QUEUED: VerifyOperationMetadata.State
    STATE_RUNNING: VerifyOperationMetadata.State
    STATE_SUCCEEDED: VerifyOperationMetadata.State
    STATE_FAILED: VerifyOperationMetadata.State
    STATE_CANCELLED: VerifyOperationMetadata.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIA_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    state: VerifyOperationMetadata.State
    progress_percent: float
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    request_id: str
    media_sha256: str
    media_bytes: int
    media_seconds: float
    cancel_requested: bool
    attempts: int
    def __init__(self, state: _Optional[_Union[VerifyOperationMetadata.State, str]] = ..., progress_percent: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., media_sha256: _Optional[str] = ..., media_bytes: _Optional[int] = ..., media_seconds: _Optional[float] = ..., cancel_requested: _Optional[bool] = ..., attempts: _Optional[int] = ...) -> None: ...

class GetC2paTrustRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetC2paTrustResponse(_message.Message):
    __slots__ = ("trust_anchors_pem", "signer_chain_pem")
    TRUST_ANCHORS_PEM_FIELD_NUMBER: _ClassVar[int]
    SIGNER_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    trust_anchors_pem: str
    signer_chain_pem: str
    def __init__(self, trust_anchors_pem: _Optional[str] = ..., signer_chain_pem: _Optional[str] = ...) -> None: ...

class GetReceiptRequest(_message.Message):
    __slots__ = ("verification_id",)
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    verification_id: str
    def __init__(self, verification_id: _Optional[str] = ...) -> None: ...

class GetReceiptResponse(_message.Message):
    __slots__ = ("verification",)
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    verification: Verification
    def __init__(self, verification: _Optional[_Union[Verification, _Mapping]] = ...) -> None: ...

class ListVerificationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVerificationsResponse(_message.Message):
    __slots__ = ("verifications", "next_page_token")
    VERIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    verifications: _containers.RepeatedCompositeFieldContainer[Verification]
    next_page_token: str
    def __init__(self, verifications: _Optional[_Iterable[_Union[Verification, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
