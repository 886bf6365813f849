-- Cluster mode of the 1:N index (LIKENESS_VERIFICATION_INDEX_ENGINE=qdrant, issue 16).
--
-- index_keys: the key of the deployment's template rotation (adapters/qdrant_index.KeyedRotation):
-- 32 random bytes wrapped by the KEK (AAD: key_id), so Qdrant's storage holds no usable template
-- without it. One active key; rotating it means a new set of collections (see deploy/README.md).
CREATE TABLE index_keys (
    key_id      text PRIMARY KEY,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX index_keys_one_active ON index_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

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
