-- mfa-store-sql schema, version 3 (PostgreSQL): the audit log. Keep in step with
-- ../sqlite/0003_audit.sql. No foreign key: the log outlives the account.
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    account TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    ip TEXT,
    browser TEXT
);
CREATE INDEX audit_by_account ON audit (account, at);
