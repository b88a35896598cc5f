//! The conformance suite on the in-memory reference store.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms() {
    mfa_testkit::conformance::run(|| async { mfa_testkit::MemoryStore::default() }).await;
}
