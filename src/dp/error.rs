//! Errors of the differential-privacy layer.

use thiserror::Error;

/// Errors raised by accountants, mechanisms and budgets.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum DpError {
    /// A parameter outside its domain (NaN, negative, out of range).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A request that would exceed the remaining budget: nothing was spent.
    #[error("privacy budget exceeded: requested (epsilon {}, delta {}), remaining (epsilon {}, delta {})", requested.0, requested.1, remaining.0, remaining.1)]
    BudgetExceeded {
        /// The (epsilon, delta) asked for.
        requested: (f64, f64),
        /// The (epsilon, delta) left.
        remaining: (f64, f64),
    },
    /// No such (data set, principal) account in the ledger.
    #[error("unknown budget account {0}")]
    UnknownAccount(String),
    /// The ledger is missing, corrupt or cannot be written.
    #[error("ledger: {0}")]
    Ledger(String),
    /// Parameters outside the range in which the guarantee is proven: a privacy curve that
    /// cannot be evaluated (NaN), rounded probabilities that would leak more than asked, a
    /// sampler's exact range. Refused before any noise is drawn; ask for a larger epsilon,
    /// a smaller domain or a smaller sensitivity.
    #[error("unsupported parameters: {0}")]
    Unsupported(String),
    /// No order gives a finite epsilon (e.g. delta too small for the orders used).
    #[error("no finite epsilon for these parameters: {0}")]
    Unbounded(String),
}
