"""Verification commands, already out of protobuf, and their validation."""

from __future__ import annotations

from dataclasses import dataclass

from likeness_common import purposes
from likeness_common.errors import FieldViolation, ResourceExhausted, check_request_id, require
from likeness_common.territories import ISO_3166_1_ALPHA_2

PURPOSES = purposes.ALL


@dataclass(frozen=True)
class Verify:
    request_id: str
    media: bytes = b""
    content_type: str = ""
    purpose: str = ""  # a consent Purpose name
    custom_purpose: str = ""
    territory: str = ""
    at_least_as_fresh: str = ""
    embed_c2pa: bool = False  # the clip (or a sidecar) back signed with the registry's C2PA manifest

    def validate(self, max_bytes: int) -> None:
        """Checked before any media work, so a bad request costs nothing."""
        v: list[FieldViolation] = []
        check_request_id(self.request_id, v)
        if not self.media:
            v.append(FieldViolation("media", "send the clip's bytes"))
        if self.purpose not in PURPOSES:
            v.append(FieldViolation("parameters.purpose", "must be one of " + ", ".join(PURPOSES)))
        if self.purpose == "CUSTOM" and not self.custom_purpose.strip():
            v.append(FieldViolation("parameters.custom_purpose", "required with purpose CUSTOM"))
        if len(self.custom_purpose) > 200:
            v.append(FieldViolation("parameters.custom_purpose", "at most 200 characters"))
        if self.territory and self.territory.upper() not in ISO_3166_1_ALPHA_2:
            v.append(FieldViolation("parameters.territory", f"{self.territory[:8]!r} is not an ISO 3166-1 alpha-2 code"))
        if len(self.content_type) > 100 or len(self.at_least_as_fresh) > 64:
            v.append(FieldViolation("parameters", "content_type at most 100, at_least_as_fresh at most 64 characters"))
        require(v)
        if len(self.media) > max_bytes:
            raise ResourceExhausted(f"media of {len(self.media)} bytes exceeds the {max_bytes}-byte limit", reason="MEDIA_TOO_LARGE")
