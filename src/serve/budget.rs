//! Per-client query budgets against model extraction, persisted across restarts.
//!
//! A client who gets exact scores for d + 1 chosen records solves for a linear model's
//! weights. The budget caps the records each client may score: a client is its public key
//! (SHA-256 of n, [`crate::paillier::KeyId`]). The limit is plain: a client that makes new
//! keys gets a new budget, so it deters casual extraction by one key holder and must be paired
//! with authentication (an API token per client) where keys are cheap to make; see the README.
//!
//! The ledger is a JSON file rewritten atomically on every charge (temporary file, fsync,
//! rename), so a crash leaves the old or the new state, and a charge that could not be
//! written is refused.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ServeError;
use crate::paillier::KeyId;

const FORMAT: &str = "shroud-query-budget-v1";

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    limit: u64,
    used: BTreeMap<String, u64>,
}

/// Records scored per client, with a per-client limit.
pub struct QueryLedger {
    path: PathBuf,
    limit: u64,
    used: BTreeMap<String, u64>,
}

impl QueryLedger {
    /// Opens the ledger at `path` (a missing file is an empty ledger) with `limit` records per
    /// client. A limit different from the one stored applies from now on.
    ///
    /// # Errors
    /// [`ServeError::Model`] (a start-up error) for an unreadable or corrupt file.
    pub fn open(path: &Path, limit: u64) -> Result<Self, ServeError> {
        let err = |m: String| ServeError::Model(format!("query ledger {}: {m}", path.display()));
        let used = match std::fs::read_to_string(path) {
            Ok(text) => {
                let d: OnDisk = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
                if d.format != FORMAT {
                    return Err(err(format!("not a {FORMAT} file")));
                }
                d.used
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        Ok(QueryLedger {
            path: path.to_owned(),
            limit,
            used,
        })
    }

    /// Records left for a client.
    pub fn remaining(&self, client: &KeyId) -> u64 {
        self.limit.saturating_sub(
            self.used
                .get(&hex::encode(client.as_bytes()))
                .copied()
                .unwrap_or(0),
        )
    }

    /// Charges `records` to `client` and persists the ledger before returning.
    ///
    /// # Errors
    /// [`ServeError::BudgetExceeded`] when the budget does not cover the request (nothing is
    /// charged), [`ServeError::Internal`] when the ledger could not be written (nothing is
    /// charged in memory; the request is refused).
    pub fn charge(&mut self, client: &KeyId, records: u64) -> Result<(), ServeError> {
        let remaining = self.remaining(client);
        if records > remaining {
            return Err(ServeError::BudgetExceeded {
                requested: records,
                remaining,
            });
        }
        let key = hex::encode(client.as_bytes());
        let before = self.used.get(&key).copied().unwrap_or(0);
        self.used.insert(key.clone(), before + records);
        if let Err(e) = self.write() {
            self.used.insert(key, before);
            return Err(ServeError::Internal(format!(
                "query ledger not written: {e}"
            )));
        }
        Ok(())
    }

    /// Gives back `records` charged to `client` for a request that then failed.
    ///
    /// # Errors
    /// [`ServeError::Internal`] when the ledger could not be written (the charge stays, on
    /// the side of fewer queries).
    pub fn refund(&mut self, client: &KeyId, records: u64) -> Result<(), ServeError> {
        let key = hex::encode(client.as_bytes());
        let Some(before) = self.used.get(&key).copied() else {
            return Ok(());
        };
        self.used
            .insert(key.clone(), before.saturating_sub(records));
        if let Err(e) = self.write() {
            self.used.insert(key, before);
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
