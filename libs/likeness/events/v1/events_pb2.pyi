import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from likeness.consent.v1 import consent_pb2 as _consent_pb2
from likeness.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from likeness.verification.v1 import verification_pb2 as _verification_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("event_id", "occurred_at", "talent_id", "aggregate_id", "actor_id", "agency_registered", "platform_registered", "talent_registered", "mandate_granted", "mandate_ended", "api_key_revoked", "talent_invitation_created", "talent_credential_issued", "face_enrolled", "voice_enrolled", "biometrics_erased", "likeness_dispute_opened", "likeness_dispute_resolved", "consent_granted", "consent_revoked", "consent_expired", "verification_decided")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    TALENT_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    MANDATE_GRANTED_FIELD_NUMBER: _ClassVar[int]
    MANDATE_ENDED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_REVOKED_FIELD_NUMBER: _ClassVar[int]
    TALENT_INVITATION_CREATED_FIELD_NUMBER: _ClassVar[int]
    TALENT_CREDENTIAL_ISSUED_FIELD_NUMBER: _ClassVar[int]
    FACE_ENROLLED_FIELD_NUMBER: _ClassVar[int]
    VOICE_ENROLLED_FIELD_NUMBER: _ClassVar[int]
    BIOMETRICS_ERASED_FIELD_NUMBER: _ClassVar[int]
    LIKENESS_DISPUTE_OPENED_FIELD_NUMBER: _ClassVar[int]
    LIKENESS_DISPUTE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_GRANTED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REVOKED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_DECIDED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    talent_id: str
    aggregate_id: str
    actor_id: str
    agency_registered: AgencyRegistered
    platform_registered: PlatformRegistered
    talent_registered: TalentRegistered
    mandate_granted: MandateGranted
    mandate_ended: MandateEnded
    api_key_revoked: ApiKeyRevoked
    talent_invitation_created: TalentInvitationCreated
    talent_credential_issued: TalentCredentialIssued
    face_enrolled: FaceEnrolled
    voice_enrolled: VoiceEnrolled
    biometrics_erased: BiometricsErased
    likeness_dispute_opened: LikenessDisputeOpened
    likeness_dispute_resolved: LikenessDisputeResolved
    consent_granted: ConsentGranted
    consent_revoked: ConsentRevoked
    consent_expired: ConsentExpired
    verification_decided: VerificationDecided
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., talent_id: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., agency_registered: _Optional[_Union[AgencyRegistered, _Mapping]] = ..., platform_registered: _Optional[_Union[PlatformRegistered, _Mapping]] = ..., talent_registered: _Optional[_Union[TalentRegistered, _Mapping]] = ..., mandate_granted: _Optional[_Union[MandateGranted, _Mapping]] = ..., mandate_ended: _Optional[_Union[MandateEnded, _Mapping]] = ..., api_key_revoked: _Optional[_Union[ApiKeyRevoked, _Mapping]] = ..., talent_invitation_created: _Optional[_Union[TalentInvitationCreated, _Mapping]] = ..., talent_credential_issued: _Optional[_Union[TalentCredentialIssued, _Mapping]] = ..., face_enrolled: _Optional[_Union[FaceEnrolled, _Mapping]] = ..., voice_enrolled: _Optional[_Union[VoiceEnrolled, _Mapping]] = ..., biometrics_erased: _Optional[_Union[BiometricsErased, _Mapping]] = ..., likeness_dispute_opened: _Optional[_Union[LikenessDisputeOpened, _Mapping]] = ..., likeness_dispute_resolved: _Optional[_Union[LikenessDisputeResolved, _Mapping]] = ..., consent_granted: _Optional[_Union[ConsentGranted, _Mapping]] = ..., consent_revoked: _Optional[_Union[ConsentRevoked, _Mapping]] = ..., consent_expired: _Optional[_Union[ConsentExpired, _Mapping]] = ..., verification_decided: _Optional[_Union[VerificationDecided, _Mapping]] = ...) -> None: ...

class AgencyRegistered(_message.Message):
    __slots__ = ("agency_id", "display_name")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    display_name: str
    def __init__(self, agency_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class PlatformRegistered(_message.Message):
    __slots__ = ("platform_id", "display_name")
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    platform_id: str
    display_name: str
    def __init__(self, platform_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class TalentRegistered(_message.Message):
    __slots__ = ("talent_id", "display_name", "external_ref")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REF_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    display_name: str
    external_ref: str
    def __init__(self, talent_id: _Optional[str] = ..., display_name: _Optional[str] = ..., external_ref: _Optional[str] = ...) -> None: ...

class MandateGranted(_message.Message):
    __slots__ = ("mandate_id", "agency_id", "talent_id", "valid_from", "valid_until")
    MANDATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    mandate_id: str
    agency_id: str
    talent_id: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, mandate_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MandateEnded(_message.Message):
    __slots__ = ("mandate_id", "agency_id", "talent_id", "reason")
    MANDATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    mandate_id: str
    agency_id: str
    talent_id: str
    reason: str
    def __init__(self, mandate_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ApiKeyRevoked(_message.Message):
    __slots__ = ("principal_id", "revoked_count")
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_COUNT_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    revoked_count: int
    def __init__(self, principal_id: _Optional[str] = ..., revoked_count: _Optional[int] = ...) -> None: ...

class TalentInvitationCreated(_message.Message):
    __slots__ = ("invitation_id", "talent_id", "agency_id", "expire_time")
    INVITATION_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    invitation_id: str
    talent_id: str
    agency_id: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, invitation_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TalentCredentialIssued(_message.Message):
    __slots__ = ("talent_id", "identity_verified", "invitation_id", "invited_by_agency_id")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    INVITATION_ID_FIELD_NUMBER: _ClassVar[int]
    INVITED_BY_AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    identity_verified: bool
    invitation_id: str
    invited_by_agency_id: str
    def __init__(self, talent_id: _Optional[str] = ..., identity_verified: _Optional[bool] = ..., invitation_id: _Optional[str] = ..., invited_by_agency_id: _Optional[str] = ...) -> None: ...

class EnrollmentSummary(_message.Message):
    __slots__ = ("enrollment_id", "accepted_samples", "rejected_samples", "model_name", "model_version", "mean_quality", "retain_until")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MEAN_QUALITY_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    accepted_samples: int
    rejected_samples: int
    model_name: str
    model_version: str
    mean_quality: float
    retain_until: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., accepted_samples: _Optional[int] = ..., rejected_samples: _Optional[int] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., mean_quality: _Optional[float] = ..., retain_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FaceEnrolled(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: EnrollmentSummary
    def __init__(self, enrollment: _Optional[_Union[EnrollmentSummary, _Mapping]] = ...) -> None: ...

class VoiceEnrolled(_message.Message):
    __slots__ = ("enrollment",)
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    enrollment: EnrollmentSummary
    def __init__(self, enrollment: _Optional[_Union[EnrollmentSummary, _Mapping]] = ...) -> None: ...

class BiometricsErased(_message.Message):
    __slots__ = ("modalities", "erased_templates", "reason")
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    ERASED_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    modalities: _containers.RepeatedScalarFieldContainer[_enrollment_pb2.Modality]
    erased_templates: int
    reason: str
    def __init__(self, modalities: _Optional[_Iterable[_Union[_enrollment_pb2.Modality, str]]] = ..., erased_templates: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class LikenessDisputeOpened(_message.Message):
    __slots__ = ("dispute_id", "modality", "held_talent_id", "existing_talent_id", "enrollment_id")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    HELD_TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXISTING_TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    modality: _enrollment_pb2.Modality
    held_talent_id: str
    existing_talent_id: str
    enrollment_id: str
    def __init__(self, dispute_id: _Optional[str] = ..., modality: _Optional[_Union[_enrollment_pb2.Modality, str]] = ..., held_talent_id: _Optional[str] = ..., existing_talent_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ...) -> None: ...

class LikenessDisputeResolved(_message.Message):
    __slots__ = ("dispute_id", "modality", "held_talent_id", "existing_talent_id", "resolution")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    HELD_TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXISTING_TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    modality: _enrollment_pb2.Modality
    held_talent_id: str
    existing_talent_id: str
    resolution: _enrollment_pb2.DisputeResolution
    def __init__(self, dispute_id: _Optional[str] = ..., modality: _Optional[_Union[_enrollment_pb2.Modality, str]] = ..., held_talent_id: _Optional[str] = ..., existing_talent_id: _Optional[str] = ..., resolution: _Optional[_Union[_enrollment_pb2.DisputeResolution, str]] = ...) -> None: ...

class ConsentGranted(_message.Message):
    __slots__ = ("grant", "consistency_token")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grant: _consent_pb2.Grant
    consistency_token: str
    def __init__(self, grant: _Optional[_Union[_consent_pb2.Grant, _Mapping]] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class ConsentRevoked(_message.Message):
    __slots__ = ("grant_id", "reason", "revoke_time", "consistency_token")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    reason: str
    revoke_time: _timestamp_pb2.Timestamp
    consistency_token: str
    def __init__(self, grant_id: _Optional[str] = ..., reason: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class ConsentExpired(_message.Message):
    __slots__ = ("grant_id", "not_after")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    not_after: _timestamp_pb2.Timestamp
    def __init__(self, grant_id: _Optional[str] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerificationDecided(_message.Message):
    __slots__ = ("verification_id", "platform_id", "decision", "purpose", "territory", "matches", "grant_ids", "media_sha256", "receipt_id", "coverage", "review_reasons", "incoming_provenance", "c2pa_requested")
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TERRITORY_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    GRANT_IDS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SHA256_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_ID_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASONS_FIELD_NUMBER: _ClassVar[int]
    INCOMING_PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    C2PA_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    verification_id: str
    platform_id: str
    decision: _verification_pb2.Decision
    purpose: _consent_pb2.Purpose
    territory: str
    matches: _containers.RepeatedCompositeFieldContainer[_verification_pb2.Match]
    grant_ids: _containers.RepeatedScalarFieldContainer[str]
    media_sha256: str
    receipt_id: str
    coverage: _verification_pb2.Coverage
    review_reasons: _containers.RepeatedScalarFieldContainer[_verification_pb2.ReviewReason]
    incoming_provenance: _verification_pb2.IncomingProvenance
    c2pa_requested: bool
    def __init__(self, verification_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., decision: _Optional[_Union[_verification_pb2.Decision, str]] = ..., purpose: _Optional[_Union[_consent_pb2.Purpose, str]] = ..., territory: _Optional[str] = ..., matches: _Optional[_Iterable[_Union[_verification_pb2.Match, _Mapping]]] = ..., grant_ids: _Optional[_Iterable[str]] = ..., media_sha256: _Optional[str] = ..., receipt_id: _Optional[str] = ..., coverage: _Optional[_Union[_verification_pb2.Coverage, _Mapping]] = ..., review_reasons: _Optional[_Iterable[_Union[_verification_pb2.ReviewReason, str]]] = ..., incoming_provenance: _Optional[_Union[_verification_pb2.IncomingProvenance, _Mapping]] = ..., c2pa_requested: _Optional[bool] = ...) -> None: ...
