//! The hashing pool: bounded concurrency, Busy on overflow, futures and blocking waits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Barrier};

use mfa_credentials::{Error, HashParams, HashingPool, Password, PasswordHasher, PoolConfig};

fn pool(workers: usize, queue: usize) -> HashingPool {
    let hasher =
        PasswordHasher::builder().params(HashParams { m_kib: 1024, t: 1, p: 1 }).build().unwrap();
    HashingPool::new(hasher, PoolConfig { queue, ..PoolConfig::with_workers(workers) }).unwrap()
}

/// 100 concurrent requests on N = 2: never more than 2 hashes at once, the overflow gets Busy,
/// every accepted request gets its answer.
#[test]
fn a_burst_of_100_never_runs_more_than_n_and_overflow_is_busy() {
    let pool = Arc::new(pool(2, 8));
    let start = Arc::new(Barrier::new(100));
    let handles: Vec<_> = (0..100)
        .map(|i| {
            let (pool, start) = (Arc::clone(&pool), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let pw = Password::new(&format!("password number {i}")).unwrap();
                match pool.hash(pw, [u8::try_from(i).unwrap(); 16]) {
                    Ok(pending) => Some(pending.wait()),
                    Err(e) => {
                        assert_eq!(e, Error::Busy);
                        None
                    }
                }
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let accepted = results.iter().filter(|r| r.is_some()).count();
    let busy = results.len() - accepted;
    let stats = pool.stats();
    assert!(stats.max_running <= 2, "{stats:?}");
    assert!(stats.max_running >= 1);
    assert!(busy > 0, "a queue of 8 cannot absorb 100 at once: {stats:?}");
    assert!(accepted >= 8, "at least the queue's capacity is accepted: {accepted}");
    assert_eq!(stats.rejected, busy);
    assert_eq!(stats.completed, accepted);
    for r in results.into_iter().flatten() {
        assert!(r.unwrap().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    }
}

#[test]
fn results_are_correct_through_the_pool() {
    let pool = pool(2, 16);
    let stored =
        pool.hash(Password::new("pooled password").unwrap(), [5; 16]).unwrap().wait().unwrap();
    let direct =
        PasswordHasher::builder().params(HashParams { m_kib: 1024, t: 1, p: 1 }).build().unwrap();
    assert!(direct.verify(&Password::new("pooled password").unwrap(), &stored).is_ok());
    let ok = pool.verify(Password::new("pooled password").unwrap(), stored.clone()).unwrap().wait();
    assert_eq!(ok.map(|v| v.rehash), Ok(None));
    let bad = pool.verify(Password::new("other").unwrap(), stored).unwrap().wait();
    assert_eq!(bad, Err(Error::PasswordMismatch));
    let unknown = pool.verify_unknown_account(Password::new("x").unwrap()).unwrap().wait();
    assert_eq!(unknown, Err(Error::PasswordMismatch));
    // A stored hash with more memory than the workers' buffers still verifies (temporary buffer).
    let big =
        PasswordHasher::builder().params(HashParams { m_kib: 4096, t: 1, p: 1 }).build().unwrap();
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed([0; 32]);
    let stored_big = big.hash(&Password::new("bigger").unwrap(), &mut rng).unwrap();
    let v = pool.verify(Password::new("bigger").unwrap(), stored_big).unwrap().wait().unwrap();
    assert_eq!(v.rehash, None, "more memory than current is not weaker");
}

/// The handle is a plain `Future`: poll it with a minimal executor (no runtime dependency).
#[test]
fn pending_is_a_future() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let pool = pool(1, 4);
    let mut fut = pool.hash(Password::new("async password").unwrap(), [7; 16]).unwrap();
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let out = loop {
        match std::pin::Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(v) => break v,
            Poll::Pending => std::thread::park(),
        }
    };
    assert!(out.unwrap().starts_with("$argon2id$"));
}

#[test]
fn dropping_the_pool_finishes_queued_work() {
    let pool = pool(1, 4);
    let pending: Vec<_> =
        (0..4).map(|i| pool.hash(Password::new("pw").unwrap(), [i; 16]).unwrap()).collect();
    drop(pool);
    for p in pending {
        assert!(p.wait().is_ok());
    }
}

/// Admission by waiting time: with room in the queue for everyone, a burst larger than the
/// workers can serve within `max_wait` is partly served and the rest answered `Busy` — by
/// the worker that reached them late, without hashing them.
#[test]
fn requests_that_waited_past_the_deadline_are_shed_unhashed() {
    let hasher =
        PasswordHasher::builder().params(HashParams { m_kib: 8192, t: 3, p: 1 }).build().unwrap();
    let config = PoolConfig {
        max_wait: std::time::Duration::from_millis(100),
        ..PoolConfig::with_workers(1)
    };
    let pool = HashingPool::new(hasher, config).unwrap();
    let pending: Vec<_> = (0..200u8)
        .map(|i| pool.hash(Password::new("a burst of logins").unwrap(), [i; 16]).unwrap())
        .collect();
    let results: Vec<_> = pending.into_iter().map(mfa_credentials::Pending::wait).collect();
    let served = results.iter().filter(|r| r.is_ok()).count();
    let shed = results.iter().filter(|r| **r == Err(Error::Busy)).count();
    assert_eq!(served + shed, 200, "every request answered, Ok or Busy");
    assert!(served >= 1, "the first is served: an idle worker takes it at once");
    assert!(shed >= 1, "200 hashes of 24 MiB-passes cannot all start within 100 ms on one worker");
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.rejected), (served, shed), "shed requests were not hashed");
}
