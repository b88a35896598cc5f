-- mfa-store-sql schema, version 5: an account's group and role (bounded labels set by the
-- operator, for rules that decide per group or role), beside the account's record so that
-- an operator can count and list a group's accounts. NULL: none (every earlier row).
ALTER TABLE accounts ADD COLUMN account_group TEXT;
ALTER TABLE accounts ADD COLUMN account_role TEXT;
CREATE INDEX accounts_by_group ON accounts (account_group);
