-- Talent hold credentials of their own (issue 14): an operator issues one after checking the
-- person's identity (identity_verified), or the talent redeems an agency's invitation
-- (invited_by: that agency; such a credential may revoke only that agency's grants).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_principal_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_principal_kind_check
    CHECK (principal_kind IN ('operator', 'agency', 'platform', 'talent'));
ALTER TABLE api_keys
    ADD COLUMN identity_verified boolean NOT NULL DEFAULT false,
    ADD COLUMN invited_by text NOT NULL DEFAULT '';
