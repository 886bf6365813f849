import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from likeness.enrollment.v1 import enrollment_pb2 as _enrollment_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    PURPOSE_ADVERTISING: _ClassVar[Purpose]
    PURPOSE_DUBBING: _ClassVar[Purpose]
    PURPOSE_SYNTHETIC_PERFORMANCE: _ClassVar[Purpose]
    PURPOSE_TRAINING: _ClassVar[Purpose]
    PURPOSE_EDITORIAL: _ClassVar[Purpose]
    PURPOSE_CUSTOM: _ClassVar[Purpose]

class GrantState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANT_STATE_UNSPECIFIED: _ClassVar[GrantState]
    GRANT_STATE_ACTIVE: _ClassVar[GrantState]
    GRANT_STATE_PENDING: _ClassVar[GrantState]
    GRANT_STATE_REVOKED: _ClassVar[GrantState]
    GRANT_STATE_EXPIRED: _ClassVar[GrantState]

class DenialReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENIAL_REASON_UNSPECIFIED: _ClassVar[DenialReason]
    DENIAL_REASON_NO_GRANT: _ClassVar[DenialReason]
    DENIAL_REASON_REVOKED: _ClassVar[DenialReason]
    DENIAL_REASON_EXPIRED: _ClassVar[DenialReason]
    DENIAL_REASON_NOT_YET_VALID: _ClassVar[DenialReason]
    DENIAL_REASON_WRONG_PLATFORM: _ClassVar[DenialReason]
    DENIAL_REASON_WRONG_MODALITY: _ClassVar[DenialReason]
    DENIAL_REASON_WRONG_PURPOSE: _ClassVar[DenialReason]
    DENIAL_REASON_OUT_OF_TERRITORY: _ClassVar[DenialReason]
PURPOSE_UNSPECIFIED: Purpose
PURPOSE_ADVERTISING: Purpose
PURPOSE_DUBBING: Purpose
PURPOSE_SYNTHETIC_PERFORMANCE: Purpose
PURPOSE_TRAINING: Purpose
PURPOSE_EDITORIAL: Purpose
PURPOSE_CUSTOM: Purpose
GRANT_STATE_UNSPECIFIED: GrantState
GRANT_STATE_ACTIVE: GrantState
GRANT_STATE_PENDING: GrantState
GRANT_STATE_REVOKED: GrantState
GRANT_STATE_EXPIRED: GrantState
DENIAL_REASON_UNSPECIFIED: DenialReason
DENIAL_REASON_NO_GRANT: DenialReason
DENIAL_REASON_REVOKED: DenialReason
DENIAL_REASON_EXPIRED: DenialReason
DENIAL_REASON_NOT_YET_VALID: DenialReason
DENIAL_REASON_WRONG_PLATFORM: DenialReason
DENIAL_REASON_WRONG_MODALITY: DenialReason
DENIAL_REASON_WRONG_PURPOSE: DenialReason
DENIAL_REASON_OUT_OF_TERRITORY: DenialReason

class Condition(_message.Message):
    __slots__ = ("kind", "value")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    value: str
    def __init__(self, kind: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Issuer(_message.Message):
    __slots__ = ("kind", "principal_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    principal_id: str
    def __init__(self, kind: _Optional[str] = ..., principal_id: _Optional[str] = ...) -> None: ...

class GrantSignature(_message.Message):
    __slots__ = ("key_id", "algorithm", "canonical_payload", "signature")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: str
    canonical_payload: bytes
    signature: bytes
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., canonical_payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("grant_id", "talent_id", "platform_id", "any_platform", "modalities", "purposes", "custom_purposes", "territories", "worldwide", "not_before", "not_after", "conditions", "issuer", "terms_ref", "create_time", "state", "revoke_time", "revoke_reason", "signature")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    ANY_PLATFORM_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PURPOSES_FIELD_NUMBER: _ClassVar[int]
    TERRITORIES_FIELD_NUMBER: _ClassVar[int]
    WORLDWIDE_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    TERMS_REF_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    talent_id: str
    platform_id: str
    any_platform: bool
    modalities: _containers.RepeatedScalarFieldContainer[_enrollment_pb2.Modality]
    purposes: _containers.RepeatedScalarFieldContainer[Purpose]
    custom_purposes: _containers.RepeatedScalarFieldContainer[str]
    territories: _containers.RepeatedScalarFieldContainer[str]
    worldwide: bool
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    issuer: Issuer
    terms_ref: str
    create_time: _timestamp_pb2.Timestamp
    state: GrantState
    revoke_time: _timestamp_pb2.Timestamp
    revoke_reason: str
    signature: GrantSignature
    def __init__(self, grant_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., any_platform: _Optional[bool] = ..., modalities: _Optional[_Iterable[_Union[_enrollment_pb2.Modality, str]]] = ..., purposes: _Optional[_Iterable[_Union[Purpose, str]]] = ..., custom_purposes: _Optional[_Iterable[str]] = ..., territories: _Optional[_Iterable[str]] = ..., worldwide: _Optional[bool] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ..., issuer: _Optional[_Union[Issuer, _Mapping]] = ..., terms_ref: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[GrantState, str]] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_reason: _Optional[str] = ..., signature: _Optional[_Union[GrantSignature, _Mapping]] = ...) -> None: ...

class CreateGrantRequest(_message.Message):
    __slots__ = ("request_id", "grant")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    grant: Grant
    def __init__(self, request_id: _Optional[str] = ..., grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class CreateGrantResponse(_message.Message):
    __slots__ = ("grant", "consistency_token")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    consistency_token: str
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class RevokeGrantRequest(_message.Message):
    __slots__ = ("request_id", "grant_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    grant_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., grant_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeGrantResponse(_message.Message):
    __slots__ = ("grant", "consistency_token")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    consistency_token: str
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ..., consistency_token: _Optional[str] = ...) -> None: ...

class GetGrantRequest(_message.Message):
    __slots__ = ("grant_id",)
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    def __init__(self, grant_id: _Optional[str] = ...) -> None: ...

class GetGrantResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class ListGrantsRequest(_message.Message):
    __slots__ = ("talent_id", "page_size", "page_token")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    page_size: int
    page_token: str
    def __init__(self, talent_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListGrantsResponse(_message.Message):
    __slots__ = ("grants", "next_page_token")
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    next_page_token: str
    def __init__(self, grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CheckConsentRequest(_message.Message):
    __slots__ = ("talent_id", "platform_id", "modality", "purpose", "custom_purpose", "territory", "at", "at_least_as_fresh")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TERRITORY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    AT_LEAST_AS_FRESH_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    platform_id: str
    modality: _enrollment_pb2.Modality
    purpose: Purpose
    custom_purpose: str
    territory: str
    at: _timestamp_pb2.Timestamp
    at_least_as_fresh: str
    def __init__(self, talent_id: _Optional[str] = ..., platform_id: _Optional[str] = ..., modality: _Optional[_Union[_enrollment_pb2.Modality, str]] = ..., purpose: _Optional[_Union[Purpose, str]] = ..., custom_purpose: _Optional[str] = ..., territory: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., at_least_as_fresh: _Optional[str] = ...) -> None: ...

class CheckConsentResponse(_message.Message):
    __slots__ = ("allowed", "grant_ids", "reason", "detail", "consistency_token", "conditions")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    GRANT_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    grant_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: DenialReason
    detail: str
    consistency_token: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    def __init__(self, allowed: _Optional[bool] = ..., grant_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[DenialReason, str]] = ..., detail: _Optional[str] = ..., consistency_token: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ...) -> None: ...

class SigningKey(_message.Message):
    __slots__ = ("key_id", "algorithm", "public_key", "create_time", "retire_time")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: str
    public_key: bytes
    create_time: _timestamp_pb2.Timestamp
    retire_time: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., public_key: _Optional[bytes] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSigningKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSigningKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[SigningKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[SigningKey, _Mapping]]] = ...) -> None: ...

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class RotateSigningKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: SigningKey
    def __init__(self, key: _Optional[_Union[SigningKey, _Mapping]] = ...) -> None: ...

class VerifyAuditLogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditLogResponse(_message.Message):
    __slots__ = ("intact", "entries_checked", "first_broken_seq", "detail")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_SEQ_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    entries_checked: int
    first_broken_seq: int
    detail: str
    def __init__(self, intact: _Optional[bool] = ..., entries_checked: _Optional[int] = ..., first_broken_seq: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...
