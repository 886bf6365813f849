"""Consistency tokens (SpiceDB's ZedToken idea): `ct1.<consent revision>`, handed out by every
consent write and check, accepted as `at_least_as_fresh` by checks and Verify. A reader given one
answers from a state at least that recent. Consent revisions follow commit order (allocated under
the outbox write lock), so "at revision R" means "every commit up to R's"."""

from __future__ import annotations

from .errors import FieldViolation, InvalidArgument

TOKEN_PREFIX = "ct1."


def encode_token(revision: int) -> str:
    return f"{TOKEN_PREFIX}{revision}"


def decode_token(token: str, field: str = "at_least_as_fresh") -> int:
    """The revision a token names; 0 for no token; INVALID_ARGUMENT for anything else."""
    if not token:
        return 0
    body = token.removeprefix(TOKEN_PREFIX)
    if body == token or not body.isdigit() or len(body) > 18:
        raise InvalidArgument(f"{field} is not a consistency token", violations=[FieldViolation(field, "malformed")])
    return int(body)


def freshest(tokens: list[str]) -> str:
    """The token naming the latest revision ("" for none)."""
    return max(tokens, key=decode_token, default="")
