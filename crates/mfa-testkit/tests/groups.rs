//! The rollout by organization ([`mfa_testkit::groups`]) on the memory store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_scenarios_hold_on_memory() {
    mfa_testkit::groups::run(|| async { mfa_testkit::MemoryStore::default() }).await;
}
