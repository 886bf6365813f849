CREATE TABLE agencies (
    agency_id       text PRIMARY KEY,
    display_name    text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE platforms (
    platform_id     text PRIMARY KEY,
    display_name    text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE talent (
    talent_id       text PRIMARY KEY,
    display_name    text NOT NULL,
    external_ref    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);

CREATE TABLE mandates (
    mandate_id      text PRIMARY KEY,
    agency_id       text NOT NULL REFERENCES agencies (agency_id),
    talent_id       text NOT NULL REFERENCES talent (talent_id),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz,
    ended_at        timestamptz,
    end_reason      text NOT NULL DEFAULT '',
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX mandates_talent ON mandates (talent_id);
CREATE INDEX mandates_agency_talent ON mandates (agency_id, talent_id);
