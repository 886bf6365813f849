-- One row per Verify decision. The signed receipt is the record: its canonical payload holds the
-- decision, matches, grant ids, models, thresholds and consistency token.
CREATE TABLE verifications (
    verification_id text PRIMARY KEY,
    receipt_id      text NOT NULL UNIQUE,
    platform_id     text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('ALLOW', 'DENY', 'NO_MATCH', 'REVIEW')),
    media_sha256    text NOT NULL,
    talent_ids      text[] NOT NULL,            -- matched talent (for agencies' "uses" views)
    payload         bytea NOT NULL,             -- canonical JSON, what is signed
    key_id          text NOT NULL,
    algorithm       text NOT NULL,
    signature       bytea NOT NULL,
    decided_at      timestamptz NOT NULL
);
CREATE INDEX verifications_platform ON verifications (platform_id, verification_id);
CREATE INDEX verifications_talent ON verifications USING gin (talent_ids);
