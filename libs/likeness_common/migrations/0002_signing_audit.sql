-- Ed25519 signing keys shared by consent grants and verification receipts. The private half is
-- wrapped (AES-256-GCM) by the key-encryption key from configuration.
CREATE TABLE signing_keys (
    key_id              text PRIMARY KEY,
    algorithm           text NOT NULL,
    public_key          bytea NOT NULL,
    private_key_wrapped bytea NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at          timestamptz
);

-- Hash-chained audit log: hash = sha256(prev_hash || canonical entry). Appended under the outbox
-- write lock, so seq follows commit order and prev_hash is the committed predecessor.
CREATE TABLE audit_log (
    seq             bigserial PRIMARY KEY,
    recorded_at     timestamptz NOT NULL,
    actor_id        text NOT NULL,
    action          text NOT NULL,
    subject_id      text NOT NULL,
    talent_id       text NOT NULL DEFAULT '',
    details         jsonb NOT NULL,
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL
);
