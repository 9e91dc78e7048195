//! Errors of the training layer.

use thiserror::Error;

use crate::data::DataError;
use crate::dp::DpError;

/// Why training, evaluation or a model file failed.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum TrainError {
    /// The data is unusable (see [`DataError`]).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The DP layer refused (budget exceeded, parameters out of range). When the budget is
    /// short ([`DpError::BudgetExceeded`]) nothing was trained.
    #[error(transparent)]
    Dp(#[from] DpError),
    /// A hyper-parameter outside its domain (learning rate, epochs, layer sizes).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The data does not fit the model (feature count, class count).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Training diverged: a loss or a weight became NaN or infinite.
    #[error("training diverged at step {step}: lower the learning rate")]
    Diverged {
        /// The step at which it was detected.
        step: u64,
    },
    /// A plot could not be drawn or its file written.
    #[error("plot: {0}")]
    Plot(String),
    /// A report's output could not be written.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the operating system said.
        message: String,
    },
    /// A model file that cannot be read, parsed or trusted.
    #[error("model file: {0}")]
    ModelFile(String),
}
