-- mfa-store-sql schema, version 2 (PostgreSQL): sessions, and the account's session epoch as a
-- column so that guarded writes can check it in SQL. Keep in step with
-- ../sqlite/0002_sessions.sql: only the column types differ.
ALTER TABLE accounts ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    epoch BIGINT NOT NULL,
    version BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account);
CREATE INDEX sessions_by_expiry ON sessions (expires);
