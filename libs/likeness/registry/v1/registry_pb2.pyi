import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PrincipalKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRINCIPAL_KIND_UNSPECIFIED: _ClassVar[PrincipalKind]
    PRINCIPAL_KIND_OPERATOR: _ClassVar[PrincipalKind]
    PRINCIPAL_KIND_AGENCY: _ClassVar[PrincipalKind]
    PRINCIPAL_KIND_PLATFORM: _ClassVar[PrincipalKind]
    PRINCIPAL_KIND_TALENT: _ClassVar[PrincipalKind]

class MandateState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MANDATE_STATE_UNSPECIFIED: _ClassVar[MandateState]
    MANDATE_STATE_ACTIVE: _ClassVar[MandateState]
    MANDATE_STATE_PENDING: _ClassVar[MandateState]
    MANDATE_STATE_ENDED: _ClassVar[MandateState]
PRINCIPAL_KIND_UNSPECIFIED: PrincipalKind
PRINCIPAL_KIND_OPERATOR: PrincipalKind
PRINCIPAL_KIND_AGENCY: PrincipalKind
PRINCIPAL_KIND_PLATFORM: PrincipalKind
PRINCIPAL_KIND_TALENT: PrincipalKind
MANDATE_STATE_UNSPECIFIED: MandateState
MANDATE_STATE_ACTIVE: MandateState
MANDATE_STATE_PENDING: MandateState
MANDATE_STATE_ENDED: MandateState

class Agency(_message.Message):
    __slots__ = ("agency_id", "display_name", "create_time")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    display_name: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, agency_id: _Optional[str] = ..., display_name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Platform(_message.Message):
    __slots__ = ("platform_id", "display_name", "create_time")
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    platform_id: str
    display_name: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, platform_id: _Optional[str] = ..., display_name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Talent(_message.Message):
    __slots__ = ("talent_id", "display_name", "external_ref", "create_time", "identity_verified", "identity_verify_time")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REF_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFY_TIME_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    display_name: str
    external_ref: str
    create_time: _timestamp_pb2.Timestamp
    identity_verified: bool
    identity_verify_time: _timestamp_pb2.Timestamp
    def __init__(self, talent_id: _Optional[str] = ..., display_name: _Optional[str] = ..., external_ref: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., identity_verified: _Optional[bool] = ..., identity_verify_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Mandate(_message.Message):
    __slots__ = ("mandate_id", "agency_id", "talent_id", "valid_from", "valid_until", "end_time", "state")
    MANDATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    mandate_id: str
    agency_id: str
    talent_id: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    state: MandateState
    def __init__(self, mandate_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[MandateState, str]] = ...) -> None: ...

class RegisterAgencyRequest(_message.Message):
    __slots__ = ("request_id", "display_name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    display_name: str
    def __init__(self, request_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class RegisterAgencyResponse(_message.Message):
    __slots__ = ("agency", "api_key")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    agency: Agency
    api_key: str
    def __init__(self, agency: _Optional[_Union[Agency, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...

class GetAgencyRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class GetAgencyResponse(_message.Message):
    __slots__ = ("agency",)
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    agency: Agency
    def __init__(self, agency: _Optional[_Union[Agency, _Mapping]] = ...) -> None: ...

class ListAgenciesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgenciesResponse(_message.Message):
    __slots__ = ("agencies", "next_page_token")
    AGENCIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agencies: _containers.RepeatedCompositeFieldContainer[Agency]
    next_page_token: str
    def __init__(self, agencies: _Optional[_Iterable[_Union[Agency, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RegisterPlatformRequest(_message.Message):
    __slots__ = ("request_id", "display_name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    display_name: str
    def __init__(self, request_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class RegisterPlatformResponse(_message.Message):
    __slots__ = ("platform", "api_key")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    platform: Platform
    api_key: str
    def __init__(self, platform: _Optional[_Union[Platform, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...

class GetPlatformRequest(_message.Message):
    __slots__ = ("platform_id",)
    PLATFORM_ID_FIELD_NUMBER: _ClassVar[int]
    platform_id: str
    def __init__(self, platform_id: _Optional[str] = ...) -> None: ...

class GetPlatformResponse(_message.Message):
    __slots__ = ("platform",)
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    platform: Platform
    def __init__(self, platform: _Optional[_Union[Platform, _Mapping]] = ...) -> None: ...

class ListPlatformsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPlatformsResponse(_message.Message):
    __slots__ = ("platforms", "next_page_token")
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    platforms: _containers.RepeatedCompositeFieldContainer[Platform]
    next_page_token: str
    def __init__(self, platforms: _Optional[_Iterable[_Union[Platform, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RegisterTalentRequest(_message.Message):
    __slots__ = ("request_id", "display_name", "external_ref", "agency_id", "mandate_valid_until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_REF_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    MANDATE_VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    display_name: str
    external_ref: str
    agency_id: str
    mandate_valid_until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., display_name: _Optional[str] = ..., external_ref: _Optional[str] = ..., agency_id: _Optional[str] = ..., mandate_valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterTalentResponse(_message.Message):
    __slots__ = ("talent", "mandate")
    TALENT_FIELD_NUMBER: _ClassVar[int]
    MANDATE_FIELD_NUMBER: _ClassVar[int]
    talent: Talent
    mandate: Mandate
    def __init__(self, talent: _Optional[_Union[Talent, _Mapping]] = ..., mandate: _Optional[_Union[Mandate, _Mapping]] = ...) -> None: ...

class GetTalentRequest(_message.Message):
    __slots__ = ("talent_id",)
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    def __init__(self, talent_id: _Optional[str] = ...) -> None: ...

class GetTalentResponse(_message.Message):
    __slots__ = ("talent",)
    TALENT_FIELD_NUMBER: _ClassVar[int]
    talent: Talent
    def __init__(self, talent: _Optional[_Union[Talent, _Mapping]] = ...) -> None: ...

class ListTalentRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTalentResponse(_message.Message):
    __slots__ = ("talent", "next_page_token")
    TALENT_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    talent: _containers.RepeatedCompositeFieldContainer[Talent]
    next_page_token: str
    def __init__(self, talent: _Optional[_Iterable[_Union[Talent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GrantMandateRequest(_message.Message):
    __slots__ = ("request_id", "agency_id", "talent_id", "valid_from", "valid_until")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agency_id: str
    talent_id: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantMandateResponse(_message.Message):
    __slots__ = ("mandate",)
    MANDATE_FIELD_NUMBER: _ClassVar[int]
    mandate: Mandate
    def __init__(self, mandate: _Optional[_Union[Mandate, _Mapping]] = ...) -> None: ...

class EndMandateRequest(_message.Message):
    __slots__ = ("request_id", "mandate_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MANDATE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    mandate_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., mandate_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EndMandateResponse(_message.Message):
    __slots__ = ("mandate",)
    MANDATE_FIELD_NUMBER: _ClassVar[int]
    mandate: Mandate
    def __init__(self, mandate: _Optional[_Union[Mandate, _Mapping]] = ...) -> None: ...

class ListMandatesRequest(_message.Message):
    __slots__ = ("talent_id", "page_size", "page_token")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    page_size: int
    page_token: str
    def __init__(self, talent_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMandatesResponse(_message.Message):
    __slots__ = ("mandates", "next_page_token")
    MANDATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    mandates: _containers.RepeatedCompositeFieldContainer[Mandate]
    next_page_token: str
    def __init__(self, mandates: _Optional[_Iterable[_Union[Mandate, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RotateApiKeyRequest(_message.Message):
    __slots__ = ("request_id", "principal_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    principal_id: str
    def __init__(self, request_id: _Optional[str] = ..., principal_id: _Optional[str] = ...) -> None: ...

class RotateApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    def __init__(self, api_key: _Optional[str] = ...) -> None: ...

class RevokeApiKeysRequest(_message.Message):
    __slots__ = ("request_id", "principal_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    principal_id: str
    def __init__(self, request_id: _Optional[str] = ..., principal_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeysResponse(_message.Message):
    __slots__ = ("revoked_count",)
    REVOKED_COUNT_FIELD_NUMBER: _ClassVar[int]
    revoked_count: int
    def __init__(self, revoked_count: _Optional[int] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("kind", "principal_id", "display_name", "identity_verified", "invited_by_agency_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    INVITED_BY_AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    kind: PrincipalKind
    principal_id: str
    display_name: str
    identity_verified: bool
    invited_by_agency_id: str
    def __init__(self, kind: _Optional[_Union[PrincipalKind, str]] = ..., principal_id: _Optional[str] = ..., display_name: _Optional[str] = ..., identity_verified: _Optional[bool] = ..., invited_by_agency_id: _Optional[str] = ...) -> None: ...

class TalentInvitation(_message.Message):
    __slots__ = ("invitation_id", "talent_id", "agency_id", "create_time", "expire_time")
    INVITATION_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    invitation_id: str
    talent_id: str
    agency_id: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, invitation_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTalentInvitationRequest(_message.Message):
    __slots__ = ("request_id", "talent_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    talent_id: str
    def __init__(self, request_id: _Optional[str] = ..., talent_id: _Optional[str] = ...) -> None: ...

class CreateTalentInvitationResponse(_message.Message):
    __slots__ = ("invitation", "invitation_code")
    INVITATION_FIELD_NUMBER: _ClassVar[int]
    INVITATION_CODE_FIELD_NUMBER: _ClassVar[int]
    invitation: TalentInvitation
    invitation_code: str
    def __init__(self, invitation: _Optional[_Union[TalentInvitation, _Mapping]] = ..., invitation_code: _Optional[str] = ...) -> None: ...

class RedeemTalentInvitationRequest(_message.Message):
    __slots__ = ("invitation_code",)
    INVITATION_CODE_FIELD_NUMBER: _ClassVar[int]
    invitation_code: str
    def __init__(self, invitation_code: _Optional[str] = ...) -> None: ...

class RedeemTalentInvitationResponse(_message.Message):
    __slots__ = ("talent", "api_key")
    TALENT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    talent: Talent
    api_key: str
    def __init__(self, talent: _Optional[_Union[Talent, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...

class IssueTalentCredentialRequest(_message.Message):
    __slots__ = ("request_id", "talent_id", "identity_verified", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    talent_id: str
    identity_verified: bool
    note: str
    def __init__(self, request_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., identity_verified: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class IssueTalentCredentialResponse(_message.Message):
    __slots__ = ("talent", "api_key")
    TALENT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    talent: Talent
    api_key: str
    def __init__(self, talent: _Optional[_Union[Talent, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...
