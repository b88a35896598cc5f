-- mfa-store-sql schema, version 2 (SQLite): sessions, and the account's session epoch as a
-- column so that guarded writes can check it in SQL. Keep in step with
-- ../postgres/0002_sessions.sql: only the column types differ.
ALTER TABLE accounts ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    version INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account);
CREATE INDEX sessions_by_expiry ON sessions (expires);
