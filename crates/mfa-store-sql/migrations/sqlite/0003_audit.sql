-- mfa-store-sql schema, version 3 (SQLite): the audit log. Keep in step with
-- ../postgres/0003_audit.sql (there the id is a BIGSERIAL). No foreign key: the log outlives
-- the account.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    account TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    ip TEXT,
    browser TEXT
);
CREATE INDEX audit_by_account ON audit (account, at);
