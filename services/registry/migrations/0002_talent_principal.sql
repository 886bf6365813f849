-- The talent as a principal (issue 14): identity verification and one-time invitations.
ALTER TABLE talent ADD COLUMN identity_verified_at timestamptz;

-- An invitation code reads `lki_<code_id>.<secret>`; only a salted hash of the secret is kept.
CREATE TABLE talent_invitations (
    invitation_id   text PRIMARY KEY,
    code_id         text NOT NULL UNIQUE,
    talent_id       text NOT NULL REFERENCES talent (talent_id),
    agency_id       text NOT NULL REFERENCES agencies (agency_id),
    salt            bytea NOT NULL,
    secret_hash     bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    redeemed_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX talent_invitations_talent ON talent_invitations (talent_id);
