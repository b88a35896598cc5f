//! The store-dependent flow scenarios (`mfa_testkit::flows`) on the memory store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_scenarios_hold_on_the_memory_store() {
    mfa_testkit::flows::run(|| async { mfa_testkit::MemoryStore::default() }).await;
}
