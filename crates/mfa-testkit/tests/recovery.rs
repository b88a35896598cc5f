//! The recovery scenarios (`mfa_testkit::recovery`) on the memory store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_scenarios_hold_on_the_memory_store() {
    mfa_testkit::recovery::run(|| async { mfa_testkit::MemoryStore::default() }).await;
}
