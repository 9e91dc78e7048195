//! Tabular data for the training layer: CSV loading with precise errors ([`csv`]), feature
//! scaling ([`scaler`]) and the built-in synthetic hospitals ([`hospitals`]).
//!
//! ```
//! use shroud::data::{hospitals::{HospitalConfig, generate}, Dataset};
//! let cfg = HospitalConfig::new(600, 3, 7).unwrap();
//! let data = generate(&cfg);
//! assert_eq!(data.hospitals.len(), 3);
//! assert_eq!(data.holdout.len(), 2000);
//! let csv = data.hospitals[0].to_csv();
//! let back = Dataset::from_csv_str(&csv, "high_risk", None).unwrap();
//! assert_eq!(back.len(), 200);
//! ```

pub mod csv;
mod error;
pub mod hospitals;
pub mod scaler;

pub use self::csv::Dataset;
pub use error::DataError;
