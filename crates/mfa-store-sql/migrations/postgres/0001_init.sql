-- mfa-store-sql schema, version 1 (PostgreSQL). Keep in step with ../sqlite/0001_init.sql:
-- only the column types differ.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    canonical_email TEXT NOT NULL UNIQUE,
    username TEXT UNIQUE,
    data TEXT NOT NULL
);

CREATE TABLE factors (
    id TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    totp_last_step BIGINT,
    data TEXT NOT NULL
);
CREATE INDEX factors_by_account ON factors (account);

CREATE TABLE flows (
    key TEXT PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX flows_by_expiry ON flows (expires);

CREATE TABLE throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
