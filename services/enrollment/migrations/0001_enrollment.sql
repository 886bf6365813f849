CREATE TABLE talent_data_keys (
    talent_id       text PRIMARY KEY,
    wrapped_key     bytea NOT NULL,             -- AES-256-GCM under the KEK, AAD = talent_id
    created_at      timestamptz NOT NULL DEFAULT now(),
    rewrapped_at    timestamptz
);

CREATE TABLE enrollments (
    enrollment_id       text PRIMARY KEY,
    talent_id           text NOT NULL,
    modality            text NOT NULL CHECK (modality IN ('FACE', 'VOICE')),
    accepted_samples    integer NOT NULL,
    rejected_samples    integer NOT NULL,
    mean_quality        real NOT NULL,
    model_name          text NOT NULL,
    model_version       text NOT NULL,
    -- The biometric notice the talent accepted (BIPA, GDPR Art. 9).
    notice_purpose      text NOT NULL,
    notice_version      text NOT NULL,
    notice_retention_s  bigint NOT NULL,
    notice_accepted_at  timestamptz NOT NULL,
    enrolled_by         text NOT NULL,
    created_at          timestamptz NOT NULL,
    retain_until        timestamptz NOT NULL,
    erased_at           timestamptz
);
CREATE INDEX enrollments_talent ON enrollments (talent_id);
CREATE INDEX enrollments_retention ON enrollments (retain_until) WHERE erased_at IS NULL;

CREATE TABLE templates (
    template_id     text PRIMARY KEY,
    talent_id       text NOT NULL,
    enrollment_id   text REFERENCES enrollments (enrollment_id),  -- NULL for the per-modality centroid
    modality        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('sample', 'centroid')),
    model_name      text NOT NULL,
    model_version   text NOT NULL,
    sealed          bytea NOT NULL,             -- AES-256-GCM under the talent's data key, AAD = template_id
    created_at      timestamptz NOT NULL
);
CREATE INDEX templates_talent ON templates (talent_id, modality);
