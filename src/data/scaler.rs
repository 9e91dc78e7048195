//! Feature scaling: x' = (x - shift) / scale per feature, stored with the model.
//!
//! # Privacy
//! [`Scaler::standardize`] computes means and standard deviations from the data it is
//! given: when that is private training data, the statistics stored with the model leak it
//! (they are not noised and not charged to any budget). [`Scaler::from_bounds`] uses
//! bounds that the user states from domain knowledge instead and reveals nothing, and
//! [`Scaler::dp_standardize`] releases the statistics with (epsilon, delta)-DP (to be
//! charged next to the training's own spend).
//!
//! ```
//! use shroud::data::scaler::Scaler;
//! let s = Scaler::from_bounds(&[(20.0, 90.0)]).unwrap();
//! assert_eq!(s.apply_row(&[55.0]).unwrap(), vec![0.0]);
//! assert_eq!(s.apply_row(&[90.0]).unwrap(), vec![1.0]);
//! ```

use serde::{Deserialize, Serialize};

use super::{DataError, Dataset};

mod private;

/// How a scaler was obtained (kept in the model file).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalerSource {
    /// Means and standard deviations of the training data (not private: see the module doc).
    Standardized,
    /// Bounds stated by the user: (lo + hi) / 2 and (hi - lo) / 2.
    Bounds,
    /// No scaling.
    Identity,
    /// Means and standard deviations released with (epsilon, delta)-DP
    /// ([`Scaler::dp_standardize`]).
    DpStandardized {
        /// The release's epsilon.
        epsilon: f64,
        /// The release's delta.
        delta: f64,
    },
}

/// Per-feature shift and scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Where the statistics came from.
    pub source: ScalerSource,
    /// Subtracted from each feature.
    pub shift: Vec<f64>,
    /// Each shifted feature is divided by this (finite, > 0).
    pub scale: Vec<f64>,
}

impl Scaler {
    /// No scaling for `d` features.
    pub fn identity(d: usize) -> Self {
        Scaler {
            source: ScalerSource::Identity,
            shift: vec![0.0; d],
            scale: vec![1.0; d],
        }
    }

    /// Means and standard deviations of `data`'s features (a constant feature gets scale 1).
    ///
    /// # Privacy
    /// Not differentially private: see the module documentation.
    pub fn standardize(data: &Dataset) -> Self {
        let (n, d) = (data.len() as f64, data.n_features());
        let mut mean = vec![0.0; d];
        for i in 0..data.len() {
            for (m, v) in mean.iter_mut().zip(data.row(i)) {
                *m += v / n;
            }
        }
        let mut var = vec![0.0; d];
        for i in 0..data.len() {
            for ((s, v), m) in var.iter_mut().zip(data.row(i)).zip(&mean) {
                *s += (v - m) * (v - m) / n;
            }
        }
        let scale = var
            .iter()
            .map(|v| {
                let s = v.sqrt();
                if s.is_finite() && s > 1e-12 { s } else { 1.0 }
            })
            .collect();
        Scaler {
            source: ScalerSource::Standardized,
            shift: mean,
            scale,
        }
    }

    /// From per-feature bounds (lo, hi) with lo < hi: maps [lo, hi] onto [-1, 1].
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] for non-finite bounds or lo >= hi.
    pub fn from_bounds(bounds: &[(f64, f64)]) -> Result<Self, DataError> {
        let mut shift = Vec::with_capacity(bounds.len());
        let mut scale = Vec::with_capacity(bounds.len());
        for &(lo, hi) in bounds {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(DataError::InvalidParameter(format!(
                    "bounds ({lo}, {hi}) must be finite with lo < hi"
                )));
            }
            shift.push(0.5 * (lo + hi));
            scale.push(0.5 * (hi - lo));
        }
        Ok(Scaler {
            source: ScalerSource::Bounds,
            shift,
            scale,
        })
    }

    /// Checks the stored values (after loading a model file).
    ///
    /// # Errors
    /// [`DataError::Shape`] for mismatched lengths, [`DataError::InvalidParameter`] for
    /// non-finite values or non-positive scales.
    pub fn validate(&self, d: usize) -> Result<(), DataError> {
        if self.shift.len() != d || self.scale.len() != d {
            return Err(DataError::Shape(format!(
                "scaler has {} shifts and {} scales for {d} features",
                self.shift.len(),
                self.scale.len()
            )));
        }
        if self.shift.iter().any(|v| !v.is_finite())
            || self.scale.iter().any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(DataError::InvalidParameter(
                "scaler values must be finite, scales positive".into(),
            ));
        }
        Ok(())
    }

    /// Scales one row.
    ///
    /// # Errors
    /// [`DataError::Shape`] for a row of the wrong length.
    pub fn apply_row(&self, row: &[f64]) -> Result<Vec<f64>, DataError> {
        if row.len() != self.shift.len() {
            return Err(DataError::Shape(format!(
                "row of {} features, scaler expects {}",
                row.len(),
                self.shift.len()
            )));
        }
        Ok(row
            .iter()
            .zip(self.shift.iter().zip(&self.scale))
            .map(|(x, (m, s))| (x - m) / s)
            .collect())
    }

    /// Scales every row of a data set.
    ///
    /// # Errors
    /// [`DataError::Shape`] for a feature count that differs from the scaler's,
    /// [`DataError::NotFinite`] if scaling overflows.
    pub fn apply(&self, data: &Dataset) -> Result<Dataset, DataError> {
        self.validate(data.n_features())?;
        let mut x = Vec::with_capacity(data.features().len());
        for i in 0..data.len() {
            x.extend(self.apply_row(data.row(i))?);
        }
        data.with_features(x)
    }
}
