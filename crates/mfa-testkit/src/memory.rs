//! The in-memory reference store: every trait method under one lock, so each is atomic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use mfa_email_identity::CanonicalEmail;
use mfa_flow::{
    Account, AccountId, Factor, FactorData, FactorId, Store, StoreError, StoreResult, ThrottleState,
};

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<AccountId, Account>,
    factors: HashMap<FactorId, Factor>,
    flows: HashMap<String, (Vec<u8>, SystemTime)>,
    throttle: HashMap<String, ThrottleState>,
}

/// The reference implementation of [`Store`], in memory. Clones share the data (like two
/// server replicas sharing one database).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Arc<Mutex<Inner>>);

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn taken(inner: &Inner, a: &Account) -> bool {
    inner.accounts.values().any(|o| {
        o.id != a.id
            && (o.canonical_email == a.canonical_email
                || (a.username.is_some()
                    && o.username.as_ref().map(|u| u.normalized())
                        == a.username.as_ref().map(|u| u.normalized())))
    })
}

impl Store for MemoryStore {
    async fn create_account(&self, account: &Account) -> StoreResult<()> {
        let mut g = self.lock();
        if g.accounts.contains_key(&account.id) || taken(&g, account) {
            return Err(StoreError::Conflict);
        }
        g.accounts.insert(account.id, account.clone());
        Ok(())
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.lock().accounts.get(&id).cloned())
    }

    async fn account_by_email(&self, email: &CanonicalEmail) -> StoreResult<Option<Account>> {
        Ok(self.lock().accounts.values().find(|a| &a.canonical_email == email).cloned())
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        Ok(self
            .lock()
            .accounts
            .values()
            .find(|a| a.username.as_ref().is_some_and(|u| u.normalized() == username))
            .cloned())
    }

    async fn update_account(&self, account: &Account) -> StoreResult<()> {
        let mut g = self.lock();
        let current = g.accounts.get(&account.id).ok_or(StoreError::NotFound)?;
        if current.version + 1 != account.version {
            return Err(StoreError::Stale);
        }
        if taken(&g, account) {
            return Err(StoreError::Conflict);
        }
        g.accounts.insert(account.id, account.clone());
        Ok(())
    }

    async fn add_factor(&self, factor: &Factor) -> StoreResult<()> {
        let mut g = self.lock();
        if g.factors.contains_key(&factor.id) {
            return Err(StoreError::Conflict);
        }
        if !g.accounts.contains_key(&factor.account) {
            return Err(StoreError::NotFound);
        }
        g.factors.insert(factor.id, factor.clone());
        Ok(())
    }

    async fn factors(&self, account: AccountId) -> StoreResult<Vec<Factor>> {
        let mut out: Vec<Factor> =
            self.lock().factors.values().filter(|f| f.account == account).cloned().collect();
        out.sort_by_key(|f| (f.created, f.id));
        Ok(out)
    }

    async fn update_factor(&self, factor: &Factor) -> StoreResult<()> {
        let mut g = self.lock();
        let current = g.factors.get(&factor.id).ok_or(StoreError::NotFound)?;
        if current.version + 1 != factor.version || current.account != factor.account {
            return Err(StoreError::Stale);
        }
        g.factors.insert(factor.id, factor.clone());
        Ok(())
    }

    async fn remove_factor(&self, account: AccountId, factor: FactorId) -> StoreResult<bool> {
        let mut g = self.lock();
        if g.factors.get(&factor).is_some_and(|f| f.account == account) {
            g.factors.remove(&factor);
            return Ok(true);
        }
        Ok(false)
    }

    async fn advance_totp_step(&self, factor: FactorId, step: u64) -> StoreResult<bool> {
        let mut g = self.lock();
        let f = g.factors.get_mut(&factor).ok_or(StoreError::NotFound)?;
        let FactorData::Totp { last_step, .. } = &mut f.data else {
            return Err(StoreError::NotFound);
        };
        if last_step.is_some_and(|l| l >= step) {
            return Ok(false);
        }
        *last_step = Some(step);
        f.version += 1;
        Ok(true)
    }

    async fn put_flow(&self, key: &str, value: &[u8], expires: SystemTime) -> StoreResult<()> {
        self.lock().flows.insert(key.to_owned(), (value.to_vec(), expires));
        Ok(())
    }

    async fn put_flow_new(
        &self,
        key: &str,
        value: &[u8],
        expires: SystemTime,
        now: SystemTime,
    ) -> StoreResult<()> {
        let mut g = self.lock();
        // A record whose time is up does not hold the lock (expiry is its own release).
        if g.flows.get(key).is_some_and(|(_, exp)| now < *exp) {
            return Err(StoreError::Conflict);
        }
        g.flows.insert(key.to_owned(), (value.to_vec(), expires));
        Ok(())
    }

    async fn take_flow(&self, key: &str, now: SystemTime) -> StoreResult<Option<Vec<u8>>> {
        let mut g = self.lock();
        match g.flows.remove(key) {
            Some((v, exp)) if now < exp => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    async fn get_flow(&self, key: &str, now: SystemTime) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.lock().flows.get(key).filter(|(_, exp)| now < *exp).map(|(v, _)| v.clone()))
    }

    async fn throttle(&self, key: &str) -> StoreResult<ThrottleState> {
        Ok(self.lock().throttle.get(key).copied().unwrap_or_default())
    }

    async fn update_throttle(
        &self,
        key: &str,
        f: impl Fn(ThrottleState) -> ThrottleState + Send + Sync,
    ) -> StoreResult<ThrottleState> {
        let mut g = self.lock();
        let next = f(g.throttle.get(key).copied().unwrap_or_default());
        g.throttle.insert(key.to_owned(), next);
        Ok(next)
    }

    async fn sweep(&self, now: SystemTime) -> StoreResult<u64> {
        let mut g = self.lock();
        let before = g.flows.len();
        g.flows.retain(|_, (_, exp)| now < *exp);
        Ok(u64::try_from(before - g.flows.len()).unwrap_or(u64::MAX))
    }
}
