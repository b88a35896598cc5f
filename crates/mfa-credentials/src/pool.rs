//! A bounded, runtime-agnostic pool of password-hashing workers.
//!
//! argon2id at OWASP parameters needs ~19 MiB and ~22 ms per hash. A burst of logins that each
//! allocate their own 19 MiB grows the process by a gigabyte and gets *slower* (the working
//! sets thrash the cache); even a semaphore with fresh allocations leaves hundreds of MiB in
//! the allocator's per-thread arenas. This pool runs N workers, each owning one preallocated
//! argon2 buffer for its whole life, fed by a queue: memory stays at about N × 19 MiB plus a
//! few hundred bytes per waiting request (its input only).
//!
//! Admission is by waiting time, not by a tiny queue: a request may wait for a worker up to
//! [`PoolConfig::max_wait`] (default 2 s); a worker that takes a job which waited longer
//! answers it [`Error::Busy`] at once without hashing (answer "try again" with a
//! `Retry-After`, HTTP 503), so a burst is served as fast as the cores allow and the excess is
//! shed in bounded time. The queue's length is only a memory bound
//! ([`PoolConfig::queue`], default 4,096 waiting requests); past it, [`Error::Busy`] at once.
//!
//! The pool uses only `std`: the handle it returns can be awaited on any async runtime
//! ([`Pending`] is a `Future`) or waited on from a plain thread ([`Pending::wait`]).

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::password::Workspace;
use crate::{Error, Password, PasswordHasher, Result, Verified};

/// Pool sizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Worker threads, each with its own argon2 buffer. Default: the available parallelism.
    pub workers: usize,
    /// Requests that may wait for a worker at most (a memory bound: each holds its input);
    /// past this, [`Error::Busy`] at once. Default: 4,096.
    pub queue: usize,
    /// The longest a request waits for a worker; one that waited longer is answered
    /// [`Error::Busy`] without being hashed. Default: 2 s.
    pub max_wait: Duration,
}

impl PoolConfig {
    /// `workers` workers, up to 4,096 waiting requests, 2 s of waiting at most.
    #[must_use]
    pub fn with_workers(workers: usize) -> Self {
        Self { workers: workers.max(1), queue: 4096, max_wait: Duration::from_secs(2) }
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self::with_workers(std::thread::available_parallelism().map_or(1, usize::from))
    }
}

enum Job {
    Hash { password: Password, salt: [u8; 16], done: Completer<String> },
    Verify { password: Password, stored: String, done: Completer<Verified> },
    Unknown { password: Password, done: Completer<Verified> },
}

/// A job and the moment past which nobody should wait for it any more.
struct Work {
    job: Job,
    deadline: Instant,
}

/// Counters a test or a metrics endpoint can read.
#[derive(Debug, Default)]
struct Gauges {
    running: AtomicUsize,
    max_running: AtomicUsize,
    completed: AtomicUsize,
    rejected: AtomicUsize,
}

/// A snapshot of the pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Hashes running right now.
    pub running: usize,
    /// The most hashes that ever ran at once.
    pub max_running: usize,
    /// Jobs finished.
    pub completed: usize,
    /// Requests refused with [`Error::Busy`] (a full queue, or waited past the deadline).
    pub rejected: usize,
}

/// The hashing pool. Dropping it lets queued work finish, then joins the workers.
///
/// ```
/// use mfa_credentials::{HashParams, HashingPool, Password, PasswordHasher, PoolConfig};
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// let hasher = PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build()?;
/// let pool = HashingPool::new(hasher, PoolConfig::with_workers(2))?;
/// let stored = pool.hash(Password::new("correct horse battery staple")?, [9; 16])?.wait()?;
/// // In async code: `pool.verify(..)?.await?`
/// let verified = pool.verify(Password::new("correct horse battery staple")?, stored)?.wait()?;
/// assert_eq!(verified.rehash, None);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct HashingPool {
    queue: Option<SyncSender<Work>>,
    workers: Vec<JoinHandle<()>>,
    gauges: Arc<Gauges>,
    max_wait: Duration,
    hasher: Arc<PasswordHasher>,
}

impl core::fmt::Debug for Work {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self.job {
            Job::Hash { .. } => "Work::Hash",
            Job::Verify { .. } => "Work::Verify",
            Job::Unknown { .. } => "Work::Unknown",
        })
    }
}

impl HashingPool {
    /// Starts the workers; each allocates its argon2 buffer now.
    ///
    /// # Errors
    /// [`Error::PoolClosed`] if a worker thread cannot be started.
    pub fn new(hasher: PasswordHasher, config: PoolConfig) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Work>(config.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let hasher = Arc::new(hasher);
        let gauges = Arc::new(Gauges::default());
        let mut workers = Vec::with_capacity(config.workers);
        for i in 0..config.workers.max(1) {
            let (rx, hasher, gauges) = (Arc::clone(&rx), Arc::clone(&hasher), Arc::clone(&gauges));
            let handle = std::thread::Builder::new()
                .name(format!("mfa-argon2-{i}"))
                .spawn(move || worker(&rx, &hasher, &gauges))
                .map_err(|_| Error::PoolClosed)?;
            workers.push(handle);
        }
        Ok(Self { queue: Some(tx), workers, gauges, max_wait: config.max_wait, hasher })
    }

    /// Queues the hashing of a new password with the given salt (16 random bytes from the
    /// caller's generator).
    ///
    /// # Errors
    /// [`Error::Busy`] when the queue is full (the returned job answers it too when it waited
    /// past [`PoolConfig::max_wait`]), [`Error::PoolClosed`] after shutdown.
    pub fn hash(&self, password: Password, salt: [u8; 16]) -> Result<Pending<String>> {
        let (done, pending) = slot();
        self.submit(Job::Hash { password, salt, done })?;
        Ok(pending)
    }

    /// Queues a verification (see [`PasswordHasher::verify`]).
    ///
    /// # Errors
    /// [`Error::Busy`] when the queue is full (the returned job answers it too when it waited
    /// past [`PoolConfig::max_wait`]), [`Error::PoolClosed`] after shutdown.
    pub fn verify(&self, password: Password, stored: String) -> Result<Pending<Verified>> {
        let (done, pending) = slot();
        self.submit(Job::Verify { password, stored, done })?;
        Ok(pending)
    }

    /// Queues the unknown-account path (see [`PasswordHasher::verify_unknown_account`]): it
    /// waits in the same queue and costs the same as a real verification.
    ///
    /// # Errors
    /// [`Error::Busy`] when the queue is full (the returned job answers it too when it waited
    /// past [`PoolConfig::max_wait`]), [`Error::PoolClosed`] after shutdown.
    pub fn verify_unknown_account(&self, password: Password) -> Result<Pending<Verified>> {
        let (done, pending) = slot();
        self.submit(Job::Unknown { password, done })?;
        Ok(pending)
    }

    /// Whether a stored hash can be checked by this pool's hasher and should be replaced
    /// (see [`PasswordHasher::needs_rehash`]): how an import validates hashes it brings in
    /// (bcrypt, argon2 with parameters within the limits).
    ///
    /// # Errors
    /// As [`PasswordHasher::needs_rehash`].
    pub fn needs_rehash(&self, stored: &str) -> Result<Option<crate::RehashReason>> {
        self.hasher.needs_rehash(stored)
    }

    /// What the pool's hasher has spent (argon2 runs and their memory-time cost).
    #[must_use]
    pub fn work(&self) -> crate::HashWork {
        self.hasher.work()
    }

    /// The pool's counters.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let g = &self.gauges;
        PoolStats {
            running: g.running.load(Ordering::SeqCst),
            max_running: g.max_running.load(Ordering::SeqCst),
            completed: g.completed.load(Ordering::SeqCst),
            rejected: g.rejected.load(Ordering::SeqCst),
        }
    }

    fn submit(&self, job: Job) -> Result<()> {
        let queue = self.queue.as_ref().ok_or(Error::PoolClosed)?;
        let work = Work { job, deadline: monotonic_now() + self.max_wait };
        match queue.try_send(work) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.gauges.rejected.fetch_add(1, Ordering::SeqCst);
                Err(Error::Busy)
            }
            Err(TrySendError::Disconnected(_)) => Err(Error::PoolClosed),
        }
    }
}

impl Drop for HashingPool {
    fn drop(&mut self) {
        self.queue = None; // workers see the channel close once the queue is drained
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// The monotonic clock, for how long a request has waited in the queue: an operational
/// deadline of this process, not a decision of the flows (those take `now` as a parameter).
#[allow(clippy::disallowed_methods)]
fn monotonic_now() -> Instant {
    Instant::now()
}

fn worker(rx: &Mutex<Receiver<Work>>, hasher: &PasswordHasher, gauges: &Gauges) {
    let mut ws = Workspace::preallocated(hasher.block_count());
    loop {
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Work { job, deadline }) = next else { return };
        if monotonic_now() > deadline {
            // Waited too long: its caller is answered "busy" now rather than late.
            gauges.rejected.fetch_add(1, Ordering::SeqCst);
            match job {
                Job::Hash { done, .. } => done.complete(Err(Error::Busy)),
                Job::Verify { done, .. } | Job::Unknown { done, .. } => {
                    done.complete(Err(Error::Busy));
                }
            }
            continue;
        }
        let now = gauges.running.fetch_add(1, Ordering::SeqCst) + 1;
        gauges.max_running.fetch_max(now, Ordering::SeqCst);
        // The gauges are updated before the waiter is woken, so that a caller who has its
        // answer also sees it counted.
        let finish = || {
            gauges.running.fetch_sub(1, Ordering::SeqCst);
            gauges.completed.fetch_add(1, Ordering::SeqCst);
        };
        match job {
            Job::Hash { password, salt, done } => {
                let r = hasher.hash_with_salt(&password, &salt, &mut ws);
                finish();
                done.complete(r);
            }
            Job::Verify { password, stored, done } => {
                let r = hasher.verify_in(&password, &stored, &mut ws);
                finish();
                done.complete(r);
            }
            Job::Unknown { password, done } => {
                let r = hasher.verify_unknown_account_in(&password, &mut ws);
                finish();
                done.complete(r);
            }
        }
    }
}

struct Slot<T> {
    state: Mutex<(Option<T>, Option<Waker>, bool)>,
    ready: Condvar,
}

/// The worker's end of a job: completing it wakes the waiter; dropping it without completing
/// (a worker lost) wakes the waiter with [`Error::PoolClosed`].
struct Completer<T> {
    slot: Arc<Slot<Result<T>>>,
}

impl<T> Completer<T> {
    fn complete(self, value: Result<T>) {
        let mut st = self.slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.0 = Some(value);
        st.2 = true;
        if let Some(w) = st.1.take() {
            w.wake();
        }
        self.slot.ready.notify_all();
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let mut st = self.slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !st.2 {
            st.0 = Some(Err(Error::PoolClosed));
            st.2 = true;
            if let Some(w) = st.1.take() {
                w.wake();
            }
            self.slot.ready.notify_all();
        }
    }
}

/// A queued job's result: `.await` it, or [`Pending::wait`] from a thread.
pub struct Pending<T> {
    slot: Arc<Slot<Result<T>>>,
}

impl<T> core::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pending")
    }
}

fn slot<T>() -> (Completer<T>, Pending<T>) {
    let slot = Arc::new(Slot { state: Mutex::new((None, None, false)), ready: Condvar::new() });
    (Completer { slot: Arc::clone(&slot) }, Pending { slot })
}

impl<T> Pending<T> {
    /// Blocks the calling thread until the job is done.
    ///
    /// # Errors
    /// The job's own error, or [`Error::PoolClosed`] if its worker was lost.
    pub fn wait(self) -> Result<T> {
        let mut st = self.slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(v) = st.0.take() {
                return v;
            }
            st = self.slot.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        match st.0.take() {
            Some(v) => Poll::Ready(v),
            None if st.2 => Poll::Ready(Err(Error::PoolClosed)),
            None => {
                st.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
