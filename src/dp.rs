//! Differential privacy: exact samplers ([`sample`]), mechanisms with privacy maps
//! ([`mechanism`], [`release`], [`stats`]), RDP and PLD accountants ([`rdp`], [`pld`]),
//! calibration ([`calibrate`]) and persistent budgets ([`budget`]).
//!
//! Noise always comes from exact integer samplers driven by the caller's CSPRNG (seeded
//! ChaCha20 in tests; [`crate::rng::os_rng`] or [`crate::rng::chacha_from_os`] otherwise);
//! accounting rounds toward more privacy loss.

pub mod budget;
pub mod calibrate;
mod error;
pub mod mechanism;
pub mod pld;
pub mod rdp;
pub mod release;
pub mod sample;
pub mod stats;

pub use error::DpError;

/// A validated probability in [0, 1] (a sampling rate).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct SamplingRate(f64);

impl SamplingRate {
    /// # Errors
    /// [`DpError::InvalidParameter`] unless 0 <= q <= 1.
    pub fn new(q: f64) -> Result<Self, DpError> {
        if q.is_finite() && (0.0..=1.0).contains(&q) {
            Ok(SamplingRate(q))
        } else {
            Err(DpError::InvalidParameter(format!(
                "sampling rate must lie in [0, 1], got {q}"
            )))
        }
    }
    /// The rate.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A validated noise multiplier (standard deviation over sensitivity), finite and > 0.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct NoiseMultiplier(f64);

impl NoiseMultiplier {
    /// # Errors
    /// [`DpError::InvalidParameter`] unless 0 < sigma < infinity.
    pub fn new(sigma: f64) -> Result<Self, DpError> {
        if sigma.is_finite() && sigma > 0.0 {
            Ok(NoiseMultiplier(sigma))
        } else {
            Err(DpError::InvalidParameter(format!(
                "noise multiplier must be positive and finite, got {sigma}"
            )))
        }
    }
    /// The multiplier.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A validated delta in (0, 1).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Delta(f64);

impl Delta {
    /// # Errors
    /// [`DpError::InvalidParameter`] unless 0 < delta < 1.
    pub fn new(delta: f64) -> Result<Self, DpError> {
        if delta.is_finite() && delta > 0.0 && delta < 1.0 {
            Ok(Delta(delta))
        } else {
            Err(DpError::InvalidParameter(format!(
                "delta must lie in (0, 1), got {delta}"
            )))
        }
    }
    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}
