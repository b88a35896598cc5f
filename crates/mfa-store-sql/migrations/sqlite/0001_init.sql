-- mfa-store-sql schema, version 1 (SQLite). Keep in step with ../postgres/0001_init.sql:
-- only the column types differ.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    canonical_email TEXT NOT NULL UNIQUE,
    username TEXT UNIQUE,
    data TEXT NOT NULL
);

CREATE TABLE factors (
    id TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    totp_last_step INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX factors_by_account ON factors (account);

CREATE TABLE flows (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX flows_by_expiry ON flows (expires);

CREATE TABLE throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
);
