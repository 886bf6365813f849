-- A long-running operation asked with embed_c2pa answers a `.c2pa` sidecar: the registry's C2PA
-- manifest for the clip as uploaded (a few KiB, no media), signed when the analysis ends and kept
-- with the operation until it expires.
ALTER TABLE verify_operations ADD COLUMN c2pa_sidecar bytea;
