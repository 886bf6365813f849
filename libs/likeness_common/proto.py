"""Small protobuf <-> Python conversions every servicer needs."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from .errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Timestamp's documented range: 0001-01-01 .. 9999-12-31.
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799


def ts(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(moment.astimezone(UTC))
    return out


def dt(message: Message, field: str) -> datetime | None:
    """The datetime in `message.field`, or None when the field is unset."""
    if not message.HasField(field):
        return None
    value: timestamp_pb2.Timestamp = getattr(message, field)
    if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS) or not (0 <= value.nanos < 1_000_000_000):
        raise InvalidArgument(f"{field} is out of range", violations=[FieldViolation(field, "timestamp out of range")])
    return value.ToDatetime(tzinfo=UTC)


def page(page_size: int, page_token: str) -> tuple[int, str]:
    """-> (size, after): validated page size and the id the page starts after."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", violations=[FieldViolation("page_size", ">= 0")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if not page_token:
        return size, ""
    try:
        padded = page_token + "=" * (-len(page_token) % 4)
        after = base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = ""
    if not after or len(after) > 100 or not after.isprintable():
        raise InvalidArgument(
            "page_token is not one this service issued", violations=[FieldViolation("page_token", "invalid")]
        )
    return size, after


def next_page_token(ids: list[str], size: int) -> str:
    """A token for the page after `ids`, or "" when this page was the last."""
    if len(ids) < size:
        return ""
    return base64.urlsafe_b64encode(ids[-1].encode()).decode().rstrip("=")


def enum_name(enum_type, value: int, prefix: str) -> str:
    """`MODALITY_FACE` -> "FACE"; "?" for a number the enum does not define (validation names it)."""
    return enum_type.Name(value).removeprefix(prefix) if value in enum_type.values() else "?"


def enum_value(enum_type, name: str, prefix: str) -> int:
    """"FACE" -> MODALITY_FACE; 0 (UNSPECIFIED) for an empty name."""
    return enum_type.Value(prefix + name) if name else 0
