"""Server-side sessions: a random id (in an HttpOnly, SameSite=Strict cookie, Secure over TLS: see
web/app.py) maps to the agency's (or a talent's own) API key, kept only in this process's memory;
one CSRF token per session (domain.model.Session)."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from ..domain.model import Session


class SessionStore:
    """In memory, least recently used first out; idle sessions expire. Anonymous sessions (they only
    carry the sign-in form's CSRF token) live in their own pool with the same cap, so a flood of
    sign-in page loads evicts other anonymous sessions, never a signed-in agency."""

    def __init__(self, idle_seconds: float, max_sessions: int) -> None:
        self._idle, self._max = idle_seconds, max_sessions
        self._signed_in: OrderedDict[str, Session] = OrderedDict()
        self._anonymous: OrderedDict[str, Session] = OrderedDict()

    def get(self, session_id: str | None) -> Session | None:
        for pool in (self._signed_in, self._anonymous):
            session = pool.get(session_id or "")
            if session is None:
                continue
            if time.monotonic() - session.last_seen > self._idle:
                del pool[session_id]
                return None
            session.last_seen = time.monotonic()
            pool.move_to_end(session_id)
            return session
        return None

    def new(self, session: Session | None = None) -> tuple[str, Session]:
        """A fresh id (also when signing in: no session fixation)."""
        session = session or Session()
        pool = self._signed_in if session.signed_in else self._anonymous
        while len(pool) >= self._max:
            pool.popitem(last=False)
        session_id = secrets.token_urlsafe(32)
        pool[session_id] = session
        return session_id, session

    def drop(self, session_id: str | None) -> None:
        for pool in (self._signed_in, self._anonymous):
            pool.pop(session_id or "", None)

    def __len__(self) -> int:
        return len(self._signed_in) + len(self._anonymous)
