"""Consent service: signed grants, revocation, expiry, checks, consistency tokens, audit."""

SERVICE_NAME = "likeness.consent.v1.ConsentService"
