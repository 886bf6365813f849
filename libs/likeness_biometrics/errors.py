"""Typed errors of the biometric pipeline.

Each carries a machine-readable `reason` (one of `Reason`) and `metadata`. They are plain
ValueErrors, not RPC errors: the library knows nothing of gRPC statuses. A service's adapter turns
one into INVALID_ARGUMENT at its boundary (`invalid_argument()`). They pickle across the
worker-process boundary: `BaseException.__reduce__` re-creates the instance from the message and
restores `reason`/`metadata` from `__dict__` (tests/biometrics/test_worker.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping


class Reason:
    # media
    UNDECODABLE_MEDIA = "UNDECODABLE_MEDIA"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"  # bytes or pixels over the limit (decompression bombs)
    MEDIA_TOO_LONG = "MEDIA_TOO_LONG"  # audio/video duration over the limit
    NO_AUDIO_STREAM = "NO_AUDIO_STREAM"
    NO_VIDEO_STREAM = "NO_VIDEO_STREAM"
    # face samples
    NO_FACE = "NO_FACE"
    MULTIPLE_FACES = "MULTIPLE_FACES"
    FACE_TOO_SMALL = "FACE_TOO_SMALL"
    # voice samples
    TOO_LITTLE_SPEECH = "TOO_LITTLE_SPEECH"


class BiometricError(ValueError):
    """Base class of everything this package raises on purpose."""

    reason = Reason.UNDECODABLE_MEDIA

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = dict(metadata or {})



@contextlib.contextmanager
def invalid_argument() -> Iterator[None]:
    """At a service's boundary (its adapters): a BiometricError raised inside becomes the caller's
    INVALID_ARGUMENT (likeness_common.errors.InvalidArgument), with the same reason and metadata."""
    from likeness_common.errors import InvalidArgument

    try:
        yield
    except BiometricError as error:
        raise InvalidArgument(error.message, reason=error.reason, metadata=error.metadata) from error


class MediaError(BiometricError):
    """The bytes could not be turned into pixels or samples (or are over a limit)."""

    reason = Reason.UNDECODABLE_MEDIA


class SampleRejected(BiometricError):
    """The media decoded but is not usable as an enrollment sample (NO_FACE, TOO_LITTLE_SPEECH...)."""

    reason = Reason.NO_FACE


class ModelFormatError(ValueError):
    """A weight file (dlib .dat, the converted voice .safetensors) is not the network this package
    evaluates, or not the file its SHA-256 pin names (models.WEIGHTS_SHA256): a fault of the
    installation, raised when a worker loads its models, never an INVALID_ARGUMENT."""
