//! Errors of the differential-privacy layer.

use thiserror::Error;

/// Errors raised by accountants, mechanisms and budgets.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum DpError {
    /// A parameter outside its domain (NaN, negative, out of range).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// No order gives a finite epsilon (e.g. delta too small for the orders used).
    #[error("no finite epsilon for these parameters: {0}")]
    Unbounded(String),
}
