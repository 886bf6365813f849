"""Server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure over TLS) maps to
the agency's (or a talent's own) API key, kept only in this process's memory; one CSRF token per session."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "likeness_console"


@dataclass
class Roster:
    """The agency's talent names as the Uses page last fetched them, so that its 2 s poll does not
    page through the whole roster every time. `others`: talent ids seen in a use that were not in
    the roster when it was fetched (another agency's talent matched in the same clip)."""

    names: dict[str, str] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)
    fetched_at: float | None = None  # time.monotonic(); None: fetch before use

    def stale(self, wanted: set[str], now: float, max_age: float, min_interval: float) -> bool:
        if self.fetched_at is None or now - self.fetched_at >= max_age:
            return True
        unseen = wanted - self.names.keys() - self.others
        return bool(unseen) and now - self.fetched_at >= min_interval


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api_key: str = ""  # empty until signed in; never rendered
    agency_id: str = ""
    agency_name: str = ""
    # A talent signed in with their own credential (then agency_id is empty), as WhoAmI said at sign-in.
    talent_id: str = ""
    talent_name: str = ""
    identity_verified: bool = False
    invited_by_agency_id: str = ""
    flash: str = ""
    last_seen: float = field(default_factory=time.monotonic)
    roster: Roster = field(default_factory=Roster)

    @property
    def signed_in(self) -> bool:
        return bool(self.api_key)

    @property
    def kind(self) -> str:
        """Which of the console's pages this session may use: "talent" or "agency"."""
        return "talent" if self.talent_id else "agency"

    @property
    def home(self) -> str:
        return "/me" if self.talent_id else "/talent"

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode())

    def pop_flash(self) -> str:
        message, self.flash = self.flash, ""
        return message


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
