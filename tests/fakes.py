"""In-memory fakes of the registry's unit of work, for domain tests and the contract tests that
run the same handler tests against fakes and Postgres."""

from __future__ import annotations

import copy
import secrets
from datetime import datetime
from typing import Any, Self

from likeness_common.errors import InvalidArgument
from likeness_common.idempotency import fingerprint
from likeness_common.principal import PrincipalKind
from registry.domain.model import Agency, Mandate, Platform, Talent, TalentInvitation


class _Table:
    def __init__(self, key: str) -> None:
        self.key = key
        self.rows: dict[str, Any] = {}

    async def add(self, item: Any) -> None:
        self.rows[getattr(item, self.key)] = copy.copy(item)

    async def get(self, item_id: str) -> Any:
        found = self.rows.get(item_id)
        return copy.copy(found) if found else None

    def sorted_after(self, after: str, limit: int, keep: Any = lambda _: True) -> list[Any]:
        return [copy.copy(self.rows[k]) for k in sorted(self.rows) if k > after and keep(self.rows[k])][:limit]


class FakeAgencies(_Table):
    async def list(self, after: str, limit: int) -> list[Agency]:
        return self.sorted_after(after, limit)


class FakePlatforms(_Table):
    async def list(self, after: str, limit: int) -> list[Platform]:
        return self.sorted_after(after, limit)


class FakeMandates(_Table):
    async def save(self, mandate: Mandate) -> None:
        self.rows[mandate.mandate_id] = copy.copy(mandate)

    async def for_talent(self, talent_id: str) -> list[Mandate]:
        return [copy.copy(m) for m in self.rows.values() if m.talent_id == talent_id]

    async def list(self, after: str, limit: int, *, agency_id: str | None, talent_id: str | None) -> list[Mandate]:
        return self.sorted_after(
            after, limit, lambda m: (agency_id is None or m.agency_id == agency_id) and (talent_id is None or m.talent_id == talent_id)
        )


class FakeTalent(_Table):
    def __init__(self, mandates: FakeMandates) -> None:
        super().__init__("talent_id")
        self._mandates = mandates

    async def list(self, after: str, limit: int, *, represented_by: str | None, now: datetime) -> list[Talent]:
        def represented(t: Talent) -> bool:
            return represented_by is None or any(
                m.talent_id == t.talent_id and m.agency_id == represented_by and m.is_active(now)
                for m in self._mandates.rows.values()
            )

        return self.sorted_after(after, limit, represented)

    async def save(self, talent: Talent) -> None:
        self.rows[talent.talent_id] = copy.copy(talent)


class FakeInvitations(_Table):
    async def by_code(self, code_id: str) -> TalentInvitation | None:
        return next((copy.copy(i) for i in self.rows.values() if i.code_id == code_id), None)

    async def save(self, invitation: TalentInvitation) -> None:
        self.rows[invitation.invitation_id] = copy.copy(invitation)


class FakeCredentials:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[PrincipalKind, str, bool]] = {}
        self.attributes: dict[str, tuple[bool, str]] = {}  # key -> (identity_verified, invited_by)

    async def issue(self, kind: PrincipalKind, principal_id: str, *, identity_verified: bool = False, invited_by: str = "") -> str:
        key = f"lk_{secrets.token_hex(8)}.{secrets.token_urlsafe(8)}"
        self.keys[key] = (kind, principal_id, False)
        self.attributes[key] = (identity_verified, invited_by)
        return key

    async def revoke_all(self, principal_id: str, key_id: str | None = None) -> int:
        hits = [k for k, (_, pid, revoked) in self.keys.items()
                if pid == principal_id and not revoked and (key_id is None or k[3:].split(".")[0] == key_id)]  # fmt: skip
        for k in hits:
            kind, pid, _ = self.keys[k]
            self.keys[k] = (kind, pid, True)
        return len(hits)


class FakeIdempotency:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[bytes, dict]] = {}

    async def recall(self, principal_id: str, operation: str, request_id: str, parameters: Any) -> dict | None:
        found = self.rows.get((principal_id, operation, request_id))
        if found is None:
            return None
        if found[0] != fingerprint(parameters):
            raise InvalidArgument("request_id was already used for a different request", reason="REQUEST_ID_REUSED")
        return found[1]

    async def remember(self, principal_id: str, operation: str, request_id: str, parameters: Any, result: dict) -> None:
        self.rows[(principal_id, operation, request_id)] = (fingerprint(parameters), result)


class FakeStore:
    """The state every FakeUnitOfWork of one test shares; `events` are the committed ones."""

    def __init__(self) -> None:
        self.agencies = FakeAgencies("agency_id")
        self.platforms = FakePlatforms("platform_id")
        self.mandates = FakeMandates("mandate_id")
        self.talent = FakeTalent(self.mandates)
        self.invitations = FakeInvitations("invitation_id")
        self.credentials = FakeCredentials()
        self.idempotency = FakeIdempotency()
        self.events: list[Any] = []


class FakeUnitOfWork:
    """Commits by copying the staged state over the store; rollback by dropping the copy."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self._staged = copy.deepcopy({k: v for k, v in vars(self._store).items() if k != "events"})
        for name, value in self._staged.items():
            setattr(self, name, value)
        self.talent._mandates = self.mandates
        self._events: list[Any] = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._staged = None

    def emit(self, event: Any) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        for name, value in self._staged.items():
            setattr(self._store, name, value)
        self._store.events.extend(self._events)
        self._events = []
