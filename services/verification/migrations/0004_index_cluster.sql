-- Cluster mode of the 1:N index (LIKENESS_VERIFICATION_INDEX_ENGINE=qdrant, issue 16).
--
-- index_keys: the keys of the deployment's template rotation (adapters/qdrant_index.KeyedRotation):
-- 32 random bytes wrapped by the KEK (AAD: key_id), so Qdrant's storage holds no usable template
-- without them. One active key (its set of collections serves); at most one pending key (its set is
-- being built from Postgres by `python -m verification.rotate_index_key`'s rotation, then activated);
-- retired keys are kept for the record, their wrapped bytes erased.
CREATE TABLE index_keys (
    key_id       text PRIMARY KEY,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at   timestamptz,
    CHECK (retired_at IS NOT NULL OR wrapped_key IS NOT NULL)
);
CREATE UNIQUE INDEX index_keys_one_active ON index_keys ((true)) WHERE activated_at IS NOT NULL AND retired_at IS NULL;
CREATE UNIQUE INDEX index_keys_one_pending ON index_keys ((true)) WHERE activated_at IS NULL AND retired_at IS NULL;

-- index_writer_state: how far the elected writer of a set of collections has applied the outbox
-- (and the consent revision and S-norm bounds of that snapshot). Readers are as fresh as this row;
-- only the session holding the set's advisory lock writes it.
CREATE TABLE index_writer_state (
    collection_set   text PRIMARY KEY,
    outbox_cursor    bigint NOT NULL,
    consent_revision bigint NOT NULL,
    voice_min_a      double precision NOT NULL,
    voice_max_b      double precision NOT NULL,
    writer           text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
