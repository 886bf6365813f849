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
    __slots__ = ("enrollment_id", "talent_id", "modality", "accepted_samples", "model_name", "model_version", "create_time", "retain_until")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TALENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    talent_id: str
    modality: Modality
    accepted_samples: int
    model_name: str
    model_version: str
    create_time: _timestamp_pb2.Timestamp
    retain_until: _timestamp_pb2.Timestamp
    def __init__(self, enrollment_id: _Optional[str] = ..., talent_id: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ..., accepted_samples: _Optional[int] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retain_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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

class EnrollFaceResponse(_message.Message):
    __slots__ = ("enrollment", "results")
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    enrollment: Enrollment
    results: _containers.RepeatedCompositeFieldContainer[SampleResult]
    def __init__(self, enrollment: _Optional[_Union[Enrollment, _Mapping]] = ..., results: _Optional[_Iterable[_Union[SampleResult, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("enrollment", "results")
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    enrollment: Enrollment
    results: _containers.RepeatedCompositeFieldContainer[SampleResult]
    def __init__(self, enrollment: _Optional[_Union[Enrollment, _Mapping]] = ..., results: _Optional[_Iterable[_Union[SampleResult, _Mapping]]] = ...) -> None: ...

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
