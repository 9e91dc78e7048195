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
//!   ledger, never a reset one. A spend is reported done only once the directory fsync
//!   succeeded: if it fails the spend fails (the renamed ledger may already hold it, which
//!   errs toward more privacy loss), and a temporary file whose write failed (a full disk)
//!   is removed.
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
    io: &'static Io,
}

/// The file-system steps of an atomic write that can fail after the temporary file exists;
/// tests replace them to inject a full disk or a failing directory fsync.
#[derive(Debug)]
struct Io {
    /// Writes the body to the temporary file and fsyncs it.
    write: fn(&mut File, &[u8]) -> std::io::Result<()>,
    /// Fsyncs the directory after the rename.
    sync_dir: fn(&Path) -> std::io::Result<()>,
}

static REAL_IO: Io = Io {
    write: write_and_sync,
    sync_dir,
};

fn write_and_sync(f: &mut File, body: &[u8]) -> std::io::Result<()> {
    f.write_all(body)?;
    f.sync_all()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // directories cannot be opened as files here; the rename is what the platform offers
    Ok(())
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
        write_atomic(path, &State::default(), ledger.io)?;
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
            io: &REAL_IO,
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
        write_atomic(&self.path, &fresh, self.io)?;
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

/// Write to a temporary file in the same directory, fsync, rename, fsync the directory. Any
/// failure is an error; a temporary file left by a failed write or rename is removed.
fn write_atomic(path: &Path, state: &State, io: &Io) -> Result<(), DpError> {
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
    let io_err = |e: std::io::Error| DpError::Ledger(format!("{}: {e}", path.display()));
    let written = File::create(&tmp).and_then(|mut f| (io.write)(&mut f, &body));
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    (io.sync_dir)(dir).map_err(|e| {
        DpError::Ledger(format!(
            "{}: fsync of the directory failed, so the change might not survive a power \
             loss (the ledger may hold it already): {e}",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("shroud-ledger-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    static FULL_DISK: Io = Io {
        write: |f, body| {
            // half the body lands, then the disk is full
            f.write_all(&body[..body.len() / 2])?;
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        },
        sync_dir,
    };

    static DIR_SYNC_FAILS: Io = Io {
        write: write_and_sync,
        sync_dir: |_| Err(std::io::Error::other("injected fsync failure")),
    };

    #[test]
    fn a_failed_write_removes_its_temporary_file_and_spends_nothing() {
        let d = temp_dir("full-disk");
        let path = d.join("ledger.json");
        let mut l = Ledger::create(&path).unwrap();
        l.add_account("d", "p", 1.0, 0.0).unwrap();
        let before = std::fs::read(&path).unwrap();
        let files = names(&d);
        l.io = &FULL_DISK;
        let err = l.spend("d", "p", 0.5, 0.0).unwrap_err();
        assert!(
            matches!(&err, DpError::Ledger(m) if m.contains("no space")),
            "{err:?}"
        );
        assert_eq!(names(&d), files, "no temporary file is left behind");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the ledger is untouched"
        );
        assert_eq!(l.remaining("d", "p").unwrap(), (1.0, 0.0));
        l.io = &REAL_IO;
        l.spend("d", "p", 0.5, 0.0).unwrap();
        assert_eq!(
            Ledger::open(&path).unwrap().remaining("d", "p").unwrap().0,
            0.5
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_directory_fsync_fails_the_spend() {
        let d = temp_dir("dir-fsync");
        let path = d.join("ledger.json");
        let mut l = Ledger::create(&path).unwrap();
        l.add_account("d", "p", 1.0, 0.0).unwrap();
        l.io = &DIR_SYNC_FAILS;
        let err = l.spend("d", "p", 0.25, 0.0).unwrap_err();
        assert!(
            matches!(&err, DpError::Ledger(m) if m.contains("fsync")),
            "{err:?}"
        );
        // not reported as done, and not forgotten either: the renamed file may hold it,
        // which errs toward more loss
        assert_eq!(l.remaining("d", "p").unwrap(), (1.0, 0.0));
        let on_disk = Ledger::open(&path).unwrap().remaining("d", "p").unwrap().0;
        assert!(on_disk <= 1.0);
        assert!(!names(&d).iter().any(|n| n.contains(".tmp-")));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
