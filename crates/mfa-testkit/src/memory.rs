//! The in-memory reference store: every trait method under one lock, so each is atomic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use mfa_email_identity::CanonicalEmail;
use mfa_flow::{
    Account, AccountId, Factor, FactorChange, FactorData, FactorId, Session, SessionId, Store,
    StoreError, StoreResult, ThrottleState,
};

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<AccountId, Account>,
    factors: HashMap<FactorId, Factor>,
    flows: HashMap<String, (Vec<u8>, SystemTime)>,
    throttle: HashMap<String, ThrottleState>,
    /// Sessions by id, with their token hash.
    sessions: HashMap<SessionId, (String, Session)>,
}

impl Inner {
    fn epoch(&self, account: AccountId) -> Option<u64> {
        self.accounts.get(&account).map(|a| a.session_epoch)
    }

    /// Whether a stored session is of its account's current epoch.
    fn live(&self, s: &Session) -> bool {
        self.epoch(s.account) == Some(s.epoch)
    }
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

    async fn create_account_with_factors(
        &self,
        account: &Account,
        factors: &[Factor],
    ) -> StoreResult<()> {
        let mut g = self.lock();
        if g.accounts.contains_key(&account.id) || taken(&g, account) {
            return Err(StoreError::Conflict);
        }
        for (i, f) in factors.iter().enumerate() {
            let repeated = factors[..i].iter().any(|o| {
                o.id == f.id
                    || (f.credential_id().is_some() && o.credential_id() == f.credential_id())
            });
            if f.account != account.id {
                return Err(StoreError::NotFound);
            }
            if repeated || g.factors.contains_key(&f.id) || credential_taken(&g.factors, f) {
                return Err(StoreError::Conflict);
            }
        }
        g.accounts.insert(account.id, account.clone());
        for f in factors {
            g.factors.insert(f.id, f.clone());
        }
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
        if g.factors.contains_key(&factor.id) || credential_taken(&g.factors, factor) {
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

    async fn change_factors(
        &self,
        account: AccountId,
        epoch: u64,
        change: &FactorChange,
    ) -> StoreResult<()> {
        let mut g = self.lock();
        match g.epoch(account) {
            None => return Err(StoreError::NotFound),
            Some(e) if e != epoch => return Err(StoreError::Revoked),
            Some(_) => {}
        }
        match change {
            FactorChange::Add(f) => {
                if f.account != account {
                    return Err(StoreError::NotFound);
                }
                if g.factors.contains_key(&f.id) || credential_taken(&g.factors, f) {
                    return Err(StoreError::Conflict);
                }
                g.factors.insert(f.id, f.clone());
            }
            FactorChange::Update(f) => {
                let current = g.factors.get(&f.id).ok_or(StoreError::NotFound)?;
                if current.account != account || current.version + 1 != f.version {
                    return Err(StoreError::Stale);
                }
                g.factors.insert(f.id, f.clone());
            }
            FactorChange::Remove { factor, keep_one_of } => {
                if g.factors.get(factor).is_none_or(|f| f.account != account) {
                    return Err(StoreError::NotFound);
                }
                if let Some(keep) = keep_one_of
                    && !keep.iter().any(|k| {
                        k != factor && g.factors.get(k).is_some_and(|f| f.account == account)
                    })
                {
                    return Err(StoreError::LastFactor);
                }
                g.factors.remove(factor);
            }
        }
        Ok(())
    }

    async fn create_session(&self, token_hash: &str, session: &Session) -> StoreResult<()> {
        let mut g = self.lock();
        match g.epoch(session.account) {
            None => return Err(StoreError::NotFound),
            Some(e) if e != session.epoch => return Err(StoreError::Revoked),
            Some(_) => {}
        }
        if g.sessions.contains_key(&session.id) || g.sessions.values().any(|(t, _)| t == token_hash)
        {
            return Err(StoreError::Conflict);
        }
        g.sessions.insert(session.id.clone(), (token_hash.to_owned(), session.clone()));
        Ok(())
    }

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let g = self.lock();
        Ok(g.sessions.values().find(|(t, s)| t == token_hash && g.live(s)).map(|(_, s)| s.clone()))
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let g = self.lock();
        Ok(g.sessions.get(id).filter(|(_, s)| g.live(s)).map(|(_, s)| s.clone()))
    }

    async fn update_session(&self, session: &Session) -> StoreResult<()> {
        let mut g = self.lock();
        let live = g.epoch(session.account) == Some(session.epoch);
        let (_, current) = g.sessions.get(&session.id).ok_or(StoreError::NotFound)?;
        if !live || current.account != session.account {
            return Err(StoreError::NotFound);
        }
        if current.version + 1 != session.version {
            return Err(StoreError::Stale);
        }
        if let Some(entry) = g.sessions.get_mut(&session.id) {
            entry.1 = session.clone();
        }
        Ok(())
    }

    async fn sessions(&self, account: AccountId) -> StoreResult<Vec<Session>> {
        let g = self.lock();
        let mut out: Vec<Session> = g
            .sessions
            .values()
            .filter(|(_, s)| s.account == account && g.live(s))
            .map(|(_, s)| s.clone())
            .collect();
        out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(out)
    }

    async fn end_sessions(
        &self,
        account: AccountId,
        only: Option<&SessionId>,
        keep: Option<&SessionId>,
    ) -> StoreResult<u64> {
        let mut g = self.lock();
        let before = g.sessions.len();
        g.sessions.retain(|id, (_, s)| {
            s.account != account || only.is_some_and(|o| o != id) || keep.is_some_and(|k| k == id)
        });
        Ok(u64::try_from(before - g.sessions.len()).unwrap_or(u64::MAX))
    }

    async fn sweep(&self, now: SystemTime) -> StoreResult<u64> {
        let mut g = self.lock();
        let before = g.flows.len() + g.sessions.len();
        g.flows.retain(|_, (_, exp)| now < *exp);
        let now = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let epochs: HashMap<AccountId, u64> =
            g.accounts.iter().map(|(id, a)| (*id, a.session_epoch)).collect();
        g.sessions.retain(|_, (_, s)| now < s.expires && epochs.get(&s.account) == Some(&s.epoch));
        Ok(u64::try_from(before - g.flows.len() - g.sessions.len()).unwrap_or(u64::MAX))
    }
}

/// Whether another factor holds `f`'s WebAuthn credential id (unique across accounts).
fn credential_taken(factors: &HashMap<FactorId, Factor>, f: &Factor) -> bool {
    f.credential_id().is_some_and(|id| {
        factors.values().any(|o| o.id != f.id && o.credential_id().as_deref() == Some(&id))
    })
}
