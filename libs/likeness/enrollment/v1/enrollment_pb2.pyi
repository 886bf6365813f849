import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollmentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENROLLMENT_STATE_UNSPECIFIED: _ClassVar[EnrollmentState]
    ENROLLMENT_STATE_ACTIVE: _ClassVar[EnrollmentState]
    ENROLLMENT_STATE_DISPUTED: _ClassVar[EnrollmentState]
    ENROLLMENT_STATE_REJECTED: _ClassVar[EnrollmentState]

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_FACE: _ClassVar[Modality]
    MODALITY_VOICE: _ClassVar[Modality]

class SampleRejection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_REJECTION_UNSPECIFIED: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_UNDECODABLE_MEDIA: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_NO_FACE: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_MULTIPLE_FACES: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_FACE_TOO_SMALL: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_TOO_LITTLE_SPEECH: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_INCONSISTENT_SAMPLES: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_CLIPPING: _ClassVar[SampleRejection]
    SAMPLE_REJECTION_UNSUPPORTED_MEDIA_TYPE: _ClassVar[SampleRejection]

class DisputeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_STATE_UNSPECIFIED: _ClassVar[DisputeState]
    DISPUTE_STATE_OPEN: _ClassVar[DisputeState]
    DISPUTE_STATE_RESOLVED: _ClassVar[DisputeState]

class DisputeResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_RESOLUTION_UNSPECIFIED: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_SAME_PERSON_KEEP_EXISTING: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_SAME_PERSON_KEEP_NEW: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_DISTINCT_PEOPLE: _ClassVar[DisputeResolution]
    DISPUTE_RESOLUTION_WITHDRAWN: _ClassVar[DisputeResolution]
ENROLLMENT_STATE_UNSPECIFIED: EnrollmentState
ENROLLMENT_STATE_ACTIVE: EnrollmentState
ENROLLMENT_STATE_DISPUTED: EnrollmentState
ENROLLMENT_STATE_REJECTED: EnrollmentState
MODALITY_UNSPECIFIED: Modality
MODALITY_FACE: Modality
MODALITY_VOICE: Modality
SAMPLE_REJECTION_UNSPECIFIED: SampleRejection
SAMPLE_REJECTION_UNDECODABLE_MEDIA: SampleRejection
SAMPLE_REJECTION_NO_FACE: SampleRejection
SAMPLE_REJECTION_MULTIPLE_FACES: SampleRejection
SAMPLE_REJECTION_FACE_TOO_SMALL: SampleRejection
SAMPLE_REJECTION_TOO_LITTLE_SPEECH: SampleRejection
SAMPLE_REJECTION_INCONSISTENT_SAMPLES: SampleRejection
SAMPLE_REJECTION_CLIPPING: SampleRejection
SAMPLE_REJECTION_UNSUPPORTED_MEDIA_TYPE: SampleRejection
DISPUTE_STATE_UNSPECIFIED: DisputeState
DISPUTE_STATE_OPEN: DisputeState
DISPUTE_STATE_RESOLVED: DisputeState
DISPUTE_RESOLUTION_UNSPECIFIED: DisputeResolution
DISPUTE_RESOLUTION_SAME_PERSON_KEEP_EXISTING: DisputeResolution
DISPUTE_RESOLUTION_SAME_PERSON_KEEP_NEW: DisputeResolution
DISPUTE_RESOLUTION_DISTINCT_PEOPLE: DisputeResolution
DISPUTE_RESOLUTION_WITHDRAWN: DisputeResolution

class BiometricNotice(_message.Message):
    __slots__ = ("purpose_text", "retention", "accept_time", "notice_version")
    PURPOSE_TEXT_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    NOTICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    purpose_text: str
    retention: _duration_pb2.Duration
    accept_time: _timestamp_pb2.Timestamp
    notice_version: str
    def __init__(self, purpose_text: _Optional[str] = ..., retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notice_version: _Optional[str] = ...) -> None: ...

class MediaSample(_message.Message):
    __slots__ = ("filename", "content", "content_type")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content: bytes
    content_type: str
    def __init__(self, filename: _Optional[str] = ..., content: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...

class SampleResult(_message.Message):
    __slots__ = ("index", "filename", "accepted", "rejection", "detail", "quality", "speech_seconds")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SPEECH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    index: int
    filename: str
    accepted: bool
    rejection: SampleRejection
    detail: str
    quality: float
    speech_seconds: float
    def __init__(self, index: _Optional[int] = ..., filename: _Optional[str] = ..., accepted: _Optional[bool] = ..., rejection: _Optional[_Union[SampleRejection, str]] = ..., detail: _Optional[str] = ..., quality: _Optional[float] = ..., speech_seconds: _Optional[float] = ...) -> None: ...

class Enrollment(_message.Message):
    __slots__ = ("enrollment_id", "talent_id", "modality", "accepted_samples", "model_name", "model_version", "create_time", "retain_until", "state", "dispute_ids")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_IDS_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    talent_id: str
    modality: Modality
    accepted_samples: int
    model_name: str
    model_version: str
    create_time: _timestamp_pb2.Timestamp
    retain_until: _timestamp_pb2.Timestamp
    state: EnrollmentState
    dispute_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, enrollment_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ..., accepted_samples: _Optional[int] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retain_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[EnrollmentState, str]] = ..., dispute_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class EnrollFaceRequest(_message.Message):
    __slots__ = ("request_id", "talent_id", "notice", "images")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    talent_id: str
    notice: BiometricNotice
    images: _containers.RepeatedCompositeFieldContainer[MediaSample]
    def __init__(self, request_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., notice: _Optional[_Union[BiometricNotice, _Mapping]] = ..., images: _Optional[_Iterable[_Union[MediaSample, _Mapping]]] = ...) -> None: ...

class LikenessWarning(_message.Message):
    __slots__ = ("modality", "similar_talent", "detail")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SIMILAR_TALENT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    modality: Modality
    similar_talent: int
    detail: str
    def __init__(self, modality: _Optional[_Union[Modality, str]] = ..., similar_talent: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class EnrollFaceResponse(_message.Message):
    __slots__ = ("enrollment", "results", "warnings")
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    enrollment: Enrollment
    results: _containers.RepeatedCompositeFieldContainer[SampleResult]
    warnings: _containers.RepeatedCompositeFieldContainer[LikenessWarning]
    def __init__(self, enrollment: _Optional[_Union[Enrollment, _Mapping]] = ..., results: _Optional[_Iterable[_Union[SampleResult, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[LikenessWarning, _Mapping]]] = ...) -> None: ...

class EnrollVoiceRequest(_message.Message):
    __slots__ = ("request_id", "talent_id", "notice", "clips")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    talent_id: str
    notice: BiometricNotice
    clips: _containers.RepeatedCompositeFieldContainer[MediaSample]
    def __init__(self, request_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., notice: _Optional[_Union[BiometricNotice, _Mapping]] = ..., clips: _Optional[_Iterable[_Union[MediaSample, _Mapping]]] = ...) -> None: ...

class EnrollVoiceResponse(_message.Message):
    __slots__ = ("enrollment", "results", "warnings")
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    enrollment: Enrollment
    results: _containers.RepeatedCompositeFieldContainer[SampleResult]
    warnings: _containers.RepeatedCompositeFieldContainer[LikenessWarning]
    def __init__(self, enrollment: _Optional[_Union[Enrollment, _Mapping]] = ..., results: _Optional[_Iterable[_Union[SampleResult, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[LikenessWarning, _Mapping]]] = ...) -> None: ...

class GetEnrollmentStatusRequest(_message.Message):
    __slots__ = ("talent_id",)
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    def __init__(self, talent_id: _Optional[str] = ...) -> None: ...

class GetEnrollmentStatusResponse(_message.Message):
    __slots__ = ("enrollments",)
    ENROLLMENTS_FIELD_NUMBER: _ClassVar[int]
    enrollments: _containers.RepeatedCompositeFieldContainer[Enrollment]
    def __init__(self, enrollments: _Optional[_Iterable[_Union[Enrollment, _Mapping]]] = ...) -> None: ...

class EraseTalentBiometricsRequest(_message.Message):
    __slots__ = ("request_id", "talent_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    talent_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EraseTalentBiometricsResponse(_message.Message):
    __slots__ = ("erased_templates", "erase_time")
    ERASED_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    ERASE_TIME_FIELD_NUMBER: _ClassVar[int]
    erased_templates: int
    erase_time: _timestamp_pb2.Timestamp
    def __init__(self, erased_templates: _Optional[int] = ..., erase_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("dispute_id", "modality", "talent_id", "enrollment_id", "existing_talent_id", "state", "resolution", "note", "open_time", "resolve_time", "score")
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXISTING_TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    modality: Modality
    talent_id: str
    enrollment_id: str
    existing_talent_id: str
    state: DisputeState
    resolution: DisputeResolution
    note: str
    open_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    score: float
    def __init__(self, dispute_id: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ..., talent_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., existing_talent_id: _Optional[str] = ..., state: _Optional[_Union[DisputeState, str]] = ..., resolution: _Optional[_Union[DisputeResolution, str]] = ..., note: _Optional[str] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class GetDisputeRequest(_message.Message):
    __slots__ = ("dispute_id",)
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    dispute_id: str
    def __init__(self, dispute_id: _Optional[str] = ...) -> None: ...

class GetDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ("talent_id", "state", "page_size", "page_token")
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    talent_id: str
    state: DisputeState
    page_size: int
    page_token: str
    def __init__(self, talent_id: _Optional[str] = ..., state: _Optional[_Union[DisputeState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes", "next_page_token")
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[Dispute]
    next_page_token: str
    def __init__(self, disputes: _Optional[_Iterable[_Union[Dispute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveDisputeRequest(_message.Message):
    __slots__ = ("request_id", "dispute_id", "resolution", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    dispute_id: str
    resolution: DisputeResolution
    note: str
    def __init__(self, request_id: _Optional[str] = ..., dispute_id: _Optional[str] = ..., resolution: _Optional[_Union[DisputeResolution, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...
