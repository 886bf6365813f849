-- Tables every service shares: credentials, idempotency records, the transactional outbox.

CREATE TABLE api_keys (
    key_id          text PRIMARY KEY,
    principal_kind  text NOT NULL CHECK (principal_kind IN ('operator', 'agency', 'platform')),
    principal_id    text NOT NULL,
    salt            bytea NOT NULL,
    secret_hash     bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX api_keys_principal ON api_keys (principal_id);

-- A request_id seen before returns the first result. `fingerprint` is a hash of the request's
-- parameters: the same request_id with other parameters is refused.
CREATE TABLE idempotency_keys (
    principal_id    text NOT NULL,
    operation       text NOT NULL,
    request_id      text NOT NULL,
    fingerprint     bytea NOT NULL,
    result          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, operation, request_id)
);

-- Transactional outbox. Writers take a transaction-scoped advisory lock before inserting, so ids
-- are allocated in commit order and the relay never skips a row that commits later.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    topic           text NOT NULL,
    message_key     text NOT NULL,
    event_type      text NOT NULL,
    payload         bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
