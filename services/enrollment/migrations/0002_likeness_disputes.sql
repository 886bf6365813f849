-- Likeness disputes (issue 14): an enrollment whose samples match another talent's templates at
-- the match threshold is stored but held (DISPUTED) until an operator resolves the dispute.
ALTER TABLE enrollments ADD COLUMN state text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'DISPUTED', 'REJECTED'));

CREATE TABLE likeness_disputes (
    dispute_id          text PRIMARY KEY,
    modality            text NOT NULL CHECK (modality IN ('FACE', 'VOICE')),
    talent_id           text NOT NULL,          -- whose enrollment is held
    enrollment_id       text NOT NULL REFERENCES enrollments (enrollment_id),
    existing_talent_id  text NOT NULL,          -- already enrolled with this likeness
    score               real NOT NULL,
    state               text NOT NULL CHECK (state IN ('OPEN', 'RESOLVED')),
    resolution          text CHECK (resolution IN ('SAME_PERSON_KEEP_EXISTING', 'SAME_PERSON_KEEP_NEW', 'DISTINCT_PEOPLE', 'WITHDRAWN')),
    note                text NOT NULL DEFAULT '',
    opened_at           timestamptz NOT NULL,
    resolved_at         timestamptz,
    resolved_by         text
);
-- One open dispute per pair of talent and modality, whichever side enrolled second.
CREATE UNIQUE INDEX likeness_disputes_open_pair ON likeness_disputes
    (least(talent_id, existing_talent_id), greatest(talent_id, existing_talent_id), modality) WHERE state = 'OPEN';
CREATE INDEX likeness_disputes_talent ON likeness_disputes (talent_id);
CREATE INDEX likeness_disputes_existing ON likeness_disputes (existing_talent_id);

-- Pairs resolved DISTINCT_PEOPLE (identical twins, look-alikes): never disputed again.
CREATE TABLE distinct_likeness (
    talent_a    text NOT NULL,  -- talent_a < talent_b
    talent_b    text NOT NULL,
    modality    text NOT NULL,
    decided_at  timestamptz NOT NULL,
    PRIMARY KEY (talent_a, talent_b, modality)
);
