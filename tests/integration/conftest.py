"""Fixtures shared by integration modules (the session-wide stack is in tests/conftest.py)."""

from tests.integration.verification_world import relay, world  # noqa: F401  (fixtures for the Verify modules)
