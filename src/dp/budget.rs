//! Privacy budgets that hold: a persistent ledger of (epsilon, delta) budgets per data set
//! and per principal (a hospital, a federated client), with basic composition.
//!
//! - A request that would exceed the remaining budget is refused with
//!   [`DpError::BudgetExceeded`] and spends nothing.
//! - Spending is serialized: a mutex inside the process and an exclusive file lock
//!   (`<ledger>.lock`) across processes; the ledger is re-read under the lock, so threads
//!   and processes spending at once never overspend.
//! - Every change is written atomically: a temporary file in the same directory, fsync,
//!   rename over the ledger, fsync of the directory. A crash leaves the old or the new
//!   ledger, never a reset one.
//! - A missing or corrupt ledger (bad JSON, bad checksum, impossible values) is an error,
//!   never a fresh budget; [`Ledger::create`] is the only way to start one.
//! - Amounts are kept as integers (epsilon in units of 1e-9, delta in units of 1e-18):
//!   requests round up and budgets round down, toward more privacy loss.
//!
//! ```
//! use shroud::dp::budget::Ledger;
//! let dir = std::env::temp_dir().join(format!("shroud-doc-ledger-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("ledger.json");
//! # let _ = std::fs::remove_file(&path);
//! let ledger = Ledger::create(&path).unwrap();
//! ledger.add_account("patients-2026", "hospital-a", 1.0, 1e-5).unwrap();
//! ledger.spend("patients-2026", "hospital-a", 0.4, 0.0).unwrap();
//! assert!(ledger.spend("patients-2026", "hospital-a", 0.7, 0.0).is_err()); // refused
//! let reopened = Ledger::open(&path).unwrap();
//! assert_eq!(reopened.remaining("patients-2026", "hospital-a").unwrap().0, 0.6);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::DpError;

const EPS_UNIT: f64 = 1e9;
const DELTA_UNIT: f64 = 1e18;
const FORMAT: &str = "shroud-dp-ledger";
const VERSION: u32 = 1;
const MAX_LEDGER_BYTES: u64 = 64 << 20;

fn eps_units_up(x: f64) -> Result<u128, DpError> {
    units(x, EPS_UNIT, true, "epsilon")
}
fn delta_units_up(x: f64) -> Result<u128, DpError> {
    units(x, DELTA_UNIT, true, "delta")
}

fn units(x: f64, unit: f64, up: bool, what: &str) -> Result<u128, DpError> {
    if !(x.is_finite() && x >= 0.0) {
        return Err(DpError::InvalidParameter(format!(
            "{what} must be finite and >= 0, got {x}"
        )));
    }
    let scaled = x * unit;
    if scaled > 1e30 {
        return Err(DpError::InvalidParameter(format!(
            "{what} {x} is too large"
        )));
    }
    Ok(if up {
        scaled.ceil() as u128
    } else {
        scaled.floor() as u128
    })
}

/// One account: a budget and what has been spent of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Account {
    dataset: String,
    principal: String,
    budget_eps: u128,
    budget_delta: u128,
    spent_eps: u128,
    spent_delta: u128,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    accounts: BTreeMap<String, Account>,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    version: u32,
    accounts: Vec<Account>,
    checksum: String,
}

fn key(dataset: &str, principal: &str) -> String {
    format!("{dataset}\u{0}{principal}")
}

fn checksum(accounts: &[Account]) -> Result<String, DpError> {
    let body = serde_json::to_vec(accounts).map_err(|e| DpError::Ledger(format!("encode: {e}")))?;
    let mut h = Sha256::new();
    h.update(b"shroud-dp-ledger/v1");
    h.update(&body);
    Ok(hex::encode(h.finalize()))
}

/// One account as [`Ledger::accounts`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountSummary {
    /// The data set.
    pub dataset: String,
    /// Who spends (a hospital, a federated client).
    pub principal: String,
    /// (epsilon, delta) granted.
    pub budget: (f64, f64),
    /// (epsilon, delta) spent.
    pub spent: (f64, f64),
}

/// A persistent privacy-budget ledger.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    lock_path: PathBuf,
    state: Mutex<State>,
}

impl Ledger {
    /// Creates a new, empty ledger file. Refuses to overwrite an existing one.
    ///
    /// # Errors
    /// [`DpError::Ledger`] if the file exists or cannot be written.
    pub fn create(path: &Path) -> Result<Self, DpError> {
        if path.exists() {
            return Err(DpError::Ledger(format!(
                "{} already exists; refusing to reset a ledger",
                path.display()
            )));
        }
        let ledger = Self::with_state(path, State::default());
        let _guard = ledger.lock_file()?;
        if path.exists() {
            return Err(DpError::Ledger(format!(
                "{} already exists; refusing to reset a ledger",
                path.display()
            )));
        }
        write_atomic(path, &State::default())?;
        Ok(ledger)
    }

    /// Opens an existing ledger.
    ///
    /// # Errors
    /// [`DpError::Ledger`] when the file is missing, unreadable or corrupt.
    pub fn open(path: &Path) -> Result<Self, DpError> {
        let state = read(path)?;
        Ok(Self::with_state(path, state))
    }

    fn with_state(path: &Path, state: State) -> Self {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        Ledger {
            path: path.to_path_buf(),
            lock_path: PathBuf::from(lock),
            state: Mutex::new(state),
        }
    }

    fn lock_file(&self) -> Result<File, DpError> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| DpError::Ledger(format!("{}: {e}", self.lock_path.display())))?;
        f.lock()
            .map_err(|e| DpError::Ledger(format!("lock {}: {e}", self.lock_path.display())))?;
        Ok(f)
    }

    /// Runs `f` on the freshest state under both locks and persists the result if `f`
    /// succeeds. Nothing is written (or changed in memory) when `f` fails.
    fn transact<T>(&self, f: impl FnOnce(&mut State) -> Result<T, DpError>) -> Result<T, DpError> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| DpError::Ledger("ledger mutex poisoned".into()))?;
        let _file_lock = self.lock_file()?;
        let mut fresh = read(&self.path)?;
        let out = f(&mut fresh)?;
        write_atomic(&self.path, &fresh)?;
        *guard = fresh;
        Ok(out)
    }

    /// Adds an account with an (epsilon, delta) budget.
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for bad amounts or names, [`DpError::Ledger`] if the
    /// account exists or the ledger cannot be written.
    pub fn add_account(
        &self,
        dataset: &str,
        principal: &str,
        epsilon: f64,
        delta: f64,
    ) -> Result<(), DpError> {
        if dataset.is_empty()
            || principal.is_empty()
            || dataset.contains('\0')
            || principal.contains('\0')
        {
            return Err(DpError::InvalidParameter(
                "data set and principal must be non-empty names".into(),
            ));
        }
        let budget_eps = units(epsilon, EPS_UNIT, false, "epsilon")?;
        let budget_delta = units(delta, DELTA_UNIT, false, "delta")?;
        if delta >= 1.0 {
            return Err(DpError::InvalidParameter(
                "a delta budget must be below 1".into(),
            ));
        }
        self.transact(|s| {
            let k = key(dataset, principal);
            if s.accounts.contains_key(&k) {
                return Err(DpError::Ledger(format!(
                    "account {dataset}/{principal} already exists"
                )));
            }
            s.accounts.insert(
                k,
                Account {
                    dataset: dataset.into(),
                    principal: principal.into(),
                    budget_eps,
                    budget_delta,
                    spent_eps: 0,
                    spent_delta: 0,
                },
            );
            Ok(())
        })
    }

    /// Spends (epsilon, delta) from an account, or refuses and spends nothing.
    ///
    /// # Errors
    /// [`DpError::BudgetExceeded`] when the request exceeds what remains;
    /// [`DpError::UnknownAccount`]; [`DpError::Ledger`] for storage failures.
    pub fn spend(
        &self,
        dataset: &str,
        principal: &str,
        epsilon: f64,
        delta: f64,
    ) -> Result<(), DpError> {
        let (e, d) = (eps_units_up(epsilon)?, delta_units_up(delta)?);
        self.transact(|s| {
            let a = s
                .accounts
                .get_mut(&key(dataset, principal))
                .ok_or_else(|| DpError::UnknownAccount(format!("{dataset}/{principal}")))?;
            let rem_e = a.budget_eps - a.spent_eps;
            let rem_d = a.budget_delta - a.spent_delta;
            if e > rem_e || d > rem_d {
                return Err(DpError::BudgetExceeded {
                    requested: (epsilon, delta),
                    remaining: (rem_e as f64 / EPS_UNIT, rem_d as f64 / DELTA_UNIT),
                });
            }
            a.spent_eps += e;
            a.spent_delta += d;
            Ok(())
        })
    }

    /// The remaining (epsilon, delta) of an account, as last read or written.
    ///
    /// # Errors
    /// [`DpError::UnknownAccount`].
    pub fn remaining(&self, dataset: &str, principal: &str) -> Result<(f64, f64), DpError> {
        let s = self
            .state
            .lock()
            .map_err(|_| DpError::Ledger("ledger mutex poisoned".into()))?;
        let a = s
            .accounts
            .get(&key(dataset, principal))
            .ok_or_else(|| DpError::UnknownAccount(format!("{dataset}/{principal}")))?;
        Ok((
            (a.budget_eps - a.spent_eps) as f64 / EPS_UNIT,
            (a.budget_delta - a.spent_delta) as f64 / DELTA_UNIT,
        ))
    }

    /// Every account, epsilons and deltas as f64.
    pub fn accounts(&self) -> Vec<AccountSummary> {
        let s = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.accounts
            .values()
            .map(|a| AccountSummary {
                dataset: a.dataset.clone(),
                principal: a.principal.clone(),
                budget: (
                    a.budget_eps as f64 / EPS_UNIT,
                    a.budget_delta as f64 / DELTA_UNIT,
                ),
                spent: (
                    a.spent_eps as f64 / EPS_UNIT,
                    a.spent_delta as f64 / DELTA_UNIT,
                ),
            })
            .collect()
    }
}

fn read(path: &Path) -> Result<State, DpError> {
    let err = |m: String| DpError::Ledger(format!("{}: {m}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| {
        err(format!(
            "{e} (a missing ledger is an error: create one with `shroud dp budget create`)"
        ))
    })?;
    if meta.len() > MAX_LEDGER_BYTES {
        return Err(err("ledger is larger than 64 MiB".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let disk: OnDisk =
        serde_json::from_str(&text).map_err(|e| err(format!("corrupt ledger: {e}")))?;
    if disk.format != FORMAT || disk.version != VERSION {
        return Err(err(format!("not a version-{VERSION} shroud ledger")));
    }
    if checksum(&disk.accounts)? != disk.checksum {
        return Err(err("corrupt ledger: checksum mismatch".into()));
    }
    let mut state = State::default();
    for a in disk.accounts {
        if a.spent_eps > a.budget_eps
            || a.spent_delta > a.budget_delta
            || a.budget_delta >= DELTA_UNIT as u128
        {
            return Err(err(format!(
                "corrupt ledger: impossible amounts for {}/{}",
                a.dataset, a.principal
            )));
        }
        if state
            .accounts
            .insert(key(&a.dataset, &a.principal), a)
            .is_some()
        {
            return Err(err("corrupt ledger: duplicate account".into()));
        }
    }
    Ok(state)
}

/// Write to a temporary file in the same directory, fsync, rename, fsync the directory.
fn write_atomic(path: &Path, state: &State) -> Result<(), DpError> {
    let accounts: Vec<Account> = state.accounts.values().cloned().collect();
    let disk = OnDisk {
        format: FORMAT.into(),
        version: VERSION,
        checksum: checksum(&accounts)?,
        accounts,
    };
    let body =
        serde_json::to_vec_pretty(&disk).map_err(|e| DpError::Ledger(format!("encode: {e}")))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e: std::io::Error| DpError::Ledger(format!("{}: {e}", path.display()));
    {
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
