//! Federated learning: participants (hospitals) train one model together; no record
//! leaves a participant, and with secure aggregation (the default) the coordinator sees
//! only the weighted sum of the updates.
//!
//! - [`coordinator`]: participant selection (all, a random fraction with a minimum, or
//!   weighted by data size; seeded), aggregation and the server optimizer (FedAvg with a
//!   server learning rate, FedAvgM with momentum).
//! - [`participant`]: local training from the global model, norm bounding of the update,
//!   and record-level DP: DP-SGD whose epsilon composes over the rounds the participant
//!   actually joins, charged to its own ledger before it trains (a short budget declines
//!   the round, and the round goes on without it).
//! - [`secure`]: updates quantized and summed by [`crate::secagg`], weighted by data size
//!   inside the sum.
//! - [`ddg`]: participant-level DP with the distributed discrete Gaussian, noise added by
//!   each participant before secure aggregation.
//! - [`robust`]: the coordinate median, trimmed mean, Krum and multi-Krum over plaintext
//!   updates, for a trusted coordinator facing malicious participants.
//! - [`local`]: everyone in one process, with scripted attacks and dropouts.
//! - [`driver`] and [`msgs`]: the coordinator and each participant in their own
//!   processes over authenticated channels, with checkpoints and resumption.
//!
//! # Example
//! ```
//! use shroud::data::hospitals::{HospitalConfig, generate};
//! use shroud::data::scaler::Scaler;
//! use shroud::dp::SamplingRate;
//! use shroud::fl::coordinator::{Aggregation, Coordinator, Selection, ServerConfig};
//! use shroud::fl::local::{LocalRun, accuracy_on, run_local};
//! use shroud::fl::participant::Participant;
//! use shroud::fl::secure::SecureConfig;
//! use shroud::secagg::GraphKind;
//! use shroud::train::dpsgd::TrainConfig;
//! use shroud::train::network::{Architecture, Network};
//!
//! let h = generate(&HospitalConfig::new(900, 3, 7)?);
//! let scaler = Scaler::standardize(&h.holdout); // the coordinator's public data
//! let mut parts = Vec::new();
//! for (i, d) in h.hospitals.iter().enumerate() {
//!     parts.push(Participant::new(i as u32, scaler.apply(d)?, None));
//! }
//! let test = scaler.apply(&h.holdout)?;
//! let secure = SecureConfig { bits: 16, graph: GraphKind::Complete, dropout: 0.34, update_clip: 5.0 };
//! let cfg = ServerConfig {
//!     rounds: 3,
//!     server_lr: 1.0,
//!     server_momentum: 0.0,
//!     selection: Selection::All,
//!     aggregation: Aggregation::Secure(secure),
//!     update_clip: Some(5.0),
//!     seed: 1,
//! };
//! let net = Network::new(&Architecture::Logistic, test.n_features(), 2, 1)?;
//! let mut coord = Coordinator::new(cfg, net)?;
//! let run = LocalRun {
//!     local: TrainConfig::new(1, SamplingRate::new(0.1)?, 0.5),
//!     dp: None,
//!     participant_dp: None,
//!     attacks: vec![],
//!     drops: Default::default(),
//!     validation: Some(&test),
//! };
//! let report = run_local(&mut coord, &mut parts, &run, &mut shroud::rng::seeded(2))?;
//! assert_eq!(report.rounds.len(), 3);
//! assert!(accuracy_on(coord.global(), &test)? > 0.7);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod coordinator;
pub mod ddg;
pub mod driver;
mod error;
pub mod local;
pub mod msgs;
pub mod participant;
pub mod robust;
pub mod secure;

pub use error::FlError;
