"""The console's own rules, no I/O: a session (an agency's, or a talent's own) and which pages each
kind may use, the session's roster cache and when it is stale, and a problem to tell the user."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from likeness_common import purposes

PURPOSES = [p.lower() for p in purposes.NAMED]  # the consent form's choices (custom: its own field)
ROSTER_MAX_AGE = 60.0  # seconds a session's cached talent names serve the Uses page
ROSTER_MIN_INTERVAL = 5.0  # at most this often refetched because a use names an unseen talent


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


class Problem(Exception):
    """Something to tell the user, with the HTTP status of the page that tells it."""

    def __init__(self, message: str, status: int = 400, details: list[str] | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.details, self.reason = message, status, details or [], reason


# Who may use a page or an action (Session.kind).
AGENCY, TALENT = frozenset({"agency"}), frozenset({"talent"})
ANYONE = AGENCY | TALENT
WRONG_KIND = {"agency": "This page is for a talent signed in with their own credential.",
              "talent": "This page is for agencies. Your own likeness is on My likeness."}  # fmt: skip


def refusal(session: Session, who: frozenset[str]) -> Problem | None:
    """Why `session` may not use a page for `who` (403), or None when it may."""
    return None if session.kind in who else Problem(WRONG_KIND[session.kind], 403)
