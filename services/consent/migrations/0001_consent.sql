-- Consent revisions are allocated at commit under the outbox write lock, so they follow commit
-- order: a reader that has applied every change up to revision R has seen all earlier commits.
CREATE SEQUENCE consent_revision;

CREATE TABLE grants (
    grant_id            text PRIMARY KEY,
    talent_id           text NOT NULL,
    platform_id         text,                 -- NULL: any platform
    modalities          text[] NOT NULL,
    purposes            text[] NOT NULL,
    custom_purposes     text[] NOT NULL,
    territories         text[],               -- NULL: worldwide
    not_before          timestamptz NOT NULL,
    not_after           timestamptz,
    conditions          jsonb NOT NULL,
    issuer_kind         text NOT NULL,
    issuer_id           text NOT NULL,
    terms_ref           text NOT NULL,
    created_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoke_reason       text NOT NULL DEFAULT '',
    expiry_announced    boolean NOT NULL DEFAULT false,
    key_id              text NOT NULL,
    algorithm           text NOT NULL,
    canonical_payload   bytea NOT NULL,
    signature           bytea NOT NULL,
    revision            bigint NOT NULL DEFAULT 0
);
CREATE INDEX grants_talent ON grants (talent_id, grant_id);
CREATE INDEX grants_revision ON grants (revision);
CREATE INDEX grants_expiry_due ON grants (not_after) WHERE NOT expiry_announced AND revoked_at IS NULL AND not_after IS NOT NULL;
