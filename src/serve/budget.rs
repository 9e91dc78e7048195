//! Per-client query budgets against model extraction, persisted across restarts.
//!
//! A client who gets exact scores for d + 1 chosen records solves for a linear model's
//! weights. The budget caps the records each client may score: a client is its API token
//! when the request carries one ([`super::tokens`]), else its public key (SHA-256 of n,
//! [`crate::paillier::KeyId`]). Keyed by public key the limit is plain: a client that makes
//! new keys gets a new budget, so it deters casual extraction by one key holder; keyed by
//! token (with `--require-token`) it holds against every client that cannot get more tokens.
//!
//! With DP output noise ([`super::noise`]) the same ledger also holds each client's privacy
//! loss: epsilon in units of 10^-9, every charge rounded up (accounting errs toward more
//! loss), summed by basic composition, against the per-client limit `--dp-budget`.
//!
//! The ledger is a JSON file rewritten atomically on every charge (temporary file, fsync,
//! rename), so a crash leaves the old or the new state, and a charge that could not be
//! written is refused.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ServeError;
use super::tokens::Principal;

const FORMAT: &str = "shroud-query-budget-v1";

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    limit: u64,
    used: BTreeMap<String, u64>,
    /// Epsilon spent per client, in units of 10^-9 (absent in ledgers without noise).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    epsilon_nano_used: BTreeMap<String, u64>,
}

/// Units of epsilon in the ledger: 10^-9.
const NANO: f64 = 1e9;

/// epsilon in ledger units, rounded up.
fn to_nano(epsilon: f64) -> u64 {
    // Finite and positive (NoiseConfig checks it); the cast saturates beyond u64.
    (epsilon * NANO).ceil() as u64
}

/// Records scored (and epsilon spent) per client, with per-client limits.
pub struct QueryLedger {
    path: PathBuf,
    limit: u64,
    epsilon_limit: Option<u64>,
    used: BTreeMap<String, u64>,
    epsilon_used: BTreeMap<String, u64>,
}

impl QueryLedger {
    /// Opens the ledger at `path` (a missing file is an empty ledger) with `limit` records per
    /// client and, with DP noise, `epsilon_limit` per client. A limit different from the one
    /// stored applies from now on.
    ///
    /// # Errors
    /// [`ServeError::Model`] (a start-up error) for an unreadable or corrupt file.
    pub fn open(path: &Path, limit: u64, epsilon_limit: Option<f64>) -> Result<Self, ServeError> {
        let err = |m: String| ServeError::Model(format!("query ledger {}: {m}", path.display()));
        let (used, epsilon_used) = match std::fs::read_to_string(path) {
            Ok(text) => {
                let d: OnDisk = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
                if d.format != FORMAT {
                    return Err(err(format!("not a {FORMAT} file")));
                }
                (d.used, d.epsilon_nano_used)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (BTreeMap::new(), BTreeMap::new())
            }
            Err(e) => return Err(err(e.to_string())),
        };
        let epsilon_limit = match epsilon_limit {
            Some(e) if e.is_finite() && e > 0.0 => Some((e * NANO).floor() as u64),
            Some(_) => return Err(err("the privacy budget must be positive and finite".into())),
            None => None,
        };
        Ok(QueryLedger {
            path: path.to_owned(),
            limit,
            epsilon_limit,
            used,
            epsilon_used,
        })
    }

    /// Records left for a client.
    pub fn remaining(&self, client: &Principal) -> u64 {
        self.limit
            .saturating_sub(self.used.get(&client.ledger_key()).copied().unwrap_or(0))
    }

    /// Epsilon left for a client (`None` without a privacy budget).
    pub fn epsilon_remaining(&self, client: &Principal) -> Option<f64> {
        self.epsilon_limit.map(|l| {
            l.saturating_sub(
                self.epsilon_used
                    .get(&client.ledger_key())
                    .copied()
                    .unwrap_or(0),
            ) as f64
                / NANO
        })
    }

    /// Charges `records` (and, with noise, `epsilon`) to `client` and persists the ledger
    /// before returning.
    ///
    /// # Errors
    /// [`ServeError::BudgetExceeded`] or [`ServeError::PrivacyBudgetExceeded`] when a budget
    /// does not cover the request (nothing is charged), [`ServeError::Internal`] when the ledger could not be written (nothing is
    /// charged in memory; the request is refused).
    pub fn charge(
        &mut self,
        client: &Principal,
        records: u64,
        epsilon: Option<f64>,
    ) -> Result<(), ServeError> {
        let remaining = self.remaining(client);
        if records > remaining {
            return Err(ServeError::BudgetExceeded {
                requested: records,
                remaining,
            });
        }
        let key = client.ledger_key();
        let eps = epsilon.map(to_nano).unwrap_or(0);
        let eps_before = self.epsilon_used.get(&key).copied().unwrap_or(0);
        if let (Some(limit), Some(e)) = (self.epsilon_limit, epsilon) {
            let left = limit.saturating_sub(eps_before);
            if eps > left {
                return Err(ServeError::PrivacyBudgetExceeded {
                    requested: e,
                    remaining: left as f64 / NANO,
                });
            }
        }
        let before = self.used.get(&key).copied().unwrap_or(0);
        self.used.insert(key.clone(), before + records);
        if eps > 0 {
            self.epsilon_used
                .insert(key.clone(), eps_before.saturating_add(eps));
        }
        if let Err(e) = self.write() {
            self.used.insert(key.clone(), before);
            if eps > 0 {
                self.epsilon_used.insert(key, eps_before);
            }
            return Err(ServeError::Internal(format!(
                "query ledger not written: {e}"
            )));
        }
        Ok(())
    }

    /// Gives back `records` (and `epsilon`) charged to `client` for a request that then
    /// failed before any score was computed.
    ///
    /// # Errors
    /// [`ServeError::Internal`] when the ledger could not be written (the charge stays, on
    /// the side of fewer queries).
    pub fn refund(
        &mut self,
        client: &Principal,
        records: u64,
        epsilon: Option<f64>,
    ) -> Result<(), ServeError> {
        let key = client.ledger_key();
        let Some(before) = self.used.get(&key).copied() else {
            return Ok(());
        };
        let eps_before = self.epsilon_used.get(&key).copied();
        self.used
            .insert(key.clone(), before.saturating_sub(records));
        if let (Some(b), Some(e)) = (eps_before, epsilon) {
            self.epsilon_used
                .insert(key.clone(), b.saturating_sub(to_nano(e)));
        }
        if let Err(e) = self.write() {
            self.used.insert(key.clone(), before);
            if let Some(b) = eps_before {
                self.epsilon_used.insert(key, b);
            }
            return Err(ServeError::Internal(format!(
                "query ledger not written: {e}"
            )));
        }
        Ok(())
    }

    fn write(&self) -> std::io::Result<()> {
        let body = serde_json::to_vec_pretty(&OnDisk {
            format: FORMAT.into(),
            limit: self.limit,
            used: self.used.clone(),
            epsilon_nano_used: self.epsilon_used.clone(),
        })
        .map_err(std::io::Error::other)?;
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&body)?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &self.path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
