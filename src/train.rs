//! Private training: models with exact per-example gradients ([`network`]), optimizers
//! ([`optim`]), Poisson sampling ([`sampler`]), the DP-SGD loop ([`dpsgd`]) and training
//! to a target epsilon charged to a budget ledger ([`private`]), metrics ([`eval`]) and the
//! model file ([`model_file`]), and the membership-inference attack ([`mia`]).
//!
//! The layer consumes the DP layer: noise comes from [`crate::dp::release::gaussian_vector`],
//! epsilons from [`crate::dp::calibrate`], budgets from [`crate::dp::budget`]. It is behind
//! the `train` cargo feature (on by default), which brings in ndarray.

pub mod dpsgd;
mod error;
pub mod eval;
pub mod mia;
pub mod model_file;
pub mod network;
pub mod optim;
#[cfg(feature = "plots")]
pub mod plot;
pub mod private;
pub mod report;
pub mod sampler;

pub use error::TrainError;
