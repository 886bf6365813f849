"""Server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure over TLS) maps to
the agency's API key, kept only in this process's memory; one CSRF token per session."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "likeness_console"


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api_key: str = ""  # empty until signed in; never rendered
    agency_id: str = ""
    agency_name: str = ""
    flash: str = ""
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def signed_in(self) -> bool:
        return bool(self.api_key)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode())

    def pop_flash(self) -> str:
        message, self.flash = self.flash, ""
        return message


class SessionStore:
    """In memory, least recently used first out; idle sessions expire."""

    def __init__(self, idle_seconds: float, max_sessions: int) -> None:
        self._idle, self._max = idle_seconds, max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def get(self, session_id: str | None) -> Session | None:
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        if time.monotonic() - session.last_seen > self._idle:
            del self._sessions[session_id]
            return None
        session.last_seen = time.monotonic()
        self._sessions.move_to_end(session_id)
        return session

    def new(self, session: Session | None = None) -> tuple[str, Session]:
        """A fresh id (also when signing in: no session fixation)."""
        while len(self._sessions) >= self._max:
            self._sessions.popitem(last=False)
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = session or Session()
        return session_id, self._sessions[session_id]

    def drop(self, session_id: str | None) -> None:
        self._sessions.pop(session_id or "", None)
