-- Long-running Verify operations (StartVerifyOperation, google.longrunning.Operations). Any replica
-- answers for any operation; a replica runs one it has claimed (lease_owner, lease_until) and
-- renews the lease while it works, so an operation whose replica stopped is picked up by another
-- once its lease lapses. The uploaded media and the caller's credential (the consent check acts
-- for the calling platform) are sealed under a per-operation data key wrapped by the KEK, and are
-- deleted as soon as the operation ends; the row itself is deleted after expire_at.
CREATE TABLE verify_operations (
    operation_id     text PRIMARY KEY,
    platform_id      text NOT NULL,
    request_id       text NOT NULL,
    params           jsonb NOT NULL,              -- purpose, custom_purpose, territory, content_type, at_least_as_fresh
    media_sha256     text NOT NULL,
    media_bytes      bigint NOT NULL,
    media_seconds    double precision,
    state            text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    progress         real NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_until      timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    wrapped_key      bytea,                       -- the operation's data key, wrapped by the KEK (NULL once ended)
    sealed_api_key   bytea,                       -- the caller's API key under the data key (NULL once ended)
    verification_id  text,                        -- SUCCEEDED: the verification (receipt) it made
    error_code       text,                        -- FAILED / CANCELLED: a google.rpc.Code name
    error_reason     text,
    error_message    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    expire_at        timestamptz,
    UNIQUE (platform_id, request_id)
);
CREATE INDEX verify_operations_claimable ON verify_operations (created_at) WHERE state IN ('QUEUED', 'RUNNING');
CREATE INDEX verify_operations_platform ON verify_operations (platform_id, operation_id);

CREATE TABLE verify_operation_media (
    operation_id text NOT NULL REFERENCES verify_operations ON DELETE CASCADE,
    seq          integer NOT NULL,
    chunk        bytea NOT NULL,                  -- AES-256-GCM under the operation's data key, AAD = operation_id/seq
    PRIMARY KEY (operation_id, seq)
);
