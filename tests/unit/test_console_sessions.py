"""The console's session store: a flood of anonymous sign-in page loads never signs an agency out."""

from __future__ import annotations

import time

from console.adapters.sessions import SessionStore
from console.domain.model import Session


def test_anonymous_sessions_never_evict_a_signed_in_agency():
    store = SessionStore(idle_seconds=60, max_sessions=3)
    agency_id, _ = store.new(Session(api_key="lk_x.y", agency_id="agc_1"))
    anonymous = [store.new()[0] for _ in range(10)]  # ten sign-in page loads, cap 3
    assert store.get(agency_id) is not None and store.get(agency_id).signed_in
    assert [store.get(a) is not None for a in anonymous] == [False] * 7 + [True] * 3  # the oldest went first
    assert len(store) == 4


def test_signed_in_sessions_have_their_own_cap_least_recently_used_first():
    store = SessionStore(idle_seconds=60, max_sessions=2)
    first, _ = store.new(Session(api_key="lk_a.1"))
    second, _ = store.new(Session(api_key="lk_b.2"))
    assert store.get(first) is not None  # first is now the most recently used
    third, _ = store.new(Session(api_key="lk_c.3"))
    assert store.get(second) is None and store.get(first) is not None and store.get(third) is not None


def test_idle_sessions_expire_and_dropped_ones_are_gone(monkeypatch):
    store = SessionStore(idle_seconds=30, max_sessions=5)
    agency, _ = store.new(Session(api_key="lk_a.1"))
    anonymous, _ = store.new()
    later = time.monotonic() + 31
    monkeypatch.setattr("console.adapters.sessions.time.monotonic", lambda: later)
    assert store.get(agency) is None and store.get(anonymous) is None
    kept, _ = store.new(Session(api_key="lk_b.2"))
    store.drop(kept)
    assert store.get(kept) is None
