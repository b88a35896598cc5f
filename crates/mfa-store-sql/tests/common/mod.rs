//! Checks shared by the SQLite and PostgreSQL tests.
#![allow(clippy::unwrap_used, dead_code)]

use mfa_flow::{Label, Store};
use mfa_store_sql::{GroupRow, SqlStore};
use mfa_testkit::conformance;

/// The group column follows the account through insert and update, and the operator's
/// report counts each group's accounts and usernames (no group first).
pub(crate) async fn group_report_counts(store: SqlStore) {
    let acme = Label::new("acme").ok();
    let mut a = conformance::account(1, "a@example.com", Some("Alpha1"));
    a.group.clone_from(&acme);
    store.create_account(&a).await.unwrap();
    let mut b = conformance::account(2, "b@example.com", None);
    b.group.clone_from(&acme);
    store.create_account(&b).await.unwrap();
    store.create_account(&conformance::account(3, "c@example.com", Some("Gamma3"))).await.unwrap();
    let row = |group: Option<&str>, accounts, with_username| GroupRow {
        group: group.map(str::to_owned),
        accounts,
        with_username,
    };
    assert_eq!(store.group_report().await.unwrap(), vec![row(None, 1, 1), row(Some("acme"), 2, 1)]);
    // An account moved to another group is counted there.
    let mut b = store.account(b.id).await.unwrap().unwrap();
    b.group = Label::new("globex").ok();
    b.version += 1;
    store.update_account(&b).await.unwrap();
    assert_eq!(
        store.group_report().await.unwrap(),
        vec![row(None, 1, 1), row(Some("acme"), 1, 1), row(Some("globex"), 1, 0)]
    );
    assert_eq!(store.account(b.id).await.unwrap().unwrap().group, Label::new("globex").ok());
}
