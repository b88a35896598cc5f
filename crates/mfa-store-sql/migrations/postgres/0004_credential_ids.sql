-- mfa-store-sql schema, version 4: a WebAuthn credential id belongs to one factor of one
-- account (WebAuthn §7.1 step 22). NULL for other kinds (NULLs never collide). Rows of
-- earlier versions are filled in by `SqlStore` when it connects.
ALTER TABLE factors ADD COLUMN credential_id TEXT;
CREATE UNIQUE INDEX factors_by_credential ON factors (credential_id);
