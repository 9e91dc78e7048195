//! The secret-sharing engine: additive shares over Z_2^64 among n >= 2 parties, fixed-point
//! arithmetic, Beaver and matrix triples, truncation, a sigmoid, a trusted dealer with
//! PRG-seed compression, and parties driven over in-memory or TCP transports.
//!
//! # Example
//! Three parties multiply two secret vectors with triples from the dealer:
//! ```
//! use shroud::mpc::{Dealer, FractionalBits, Material, Mesh, Party, Request, SessionId, reconstruct};
//!
//! let req = Request { triples: 2, ..Request::default() };
//! let session = SessionId::random(&mut shroud::rng::os_rng());
//! let dealt = Dealer::new(3)?.deal(&session, &req, &mut shroud::rng::os_rng())?;
//! let mut material = vec![Material::from_corrections(req.clone(), &session, dealt.corrections)?];
//! for seed in &dealt.seeds {
//!     material.push(Material::from_seed(req.clone(), &session, seed)?);
//! }
//! let handles: Vec<_> = Mesh::memory(3)
//!     .into_iter()
//!     .zip(material)
//!     .map(|(mesh, m)| std::thread::spawn(move || {
//!         let mut p = Party::new(mesh, m, FractionalBits::default());
//!         let mut rng = shroud::rng::os_rng();
//!         let me = p.index();
//!         let x = p.input(0, (me == 0).then_some(&[3u64, 4][..]), 2, &mut rng)?;
//!         let y = p.input(1, (me == 1).then_some(&[5u64, 6][..]), 2, &mut rng)?;
//!         let z = p.mul(&x, &y)?;
//!         p.reveal(&z)
//!     }))
//!     .collect();
//! for h in handles {
//!     assert_eq!(h.join().unwrap()?, vec![15, 24]);
//! }
//! # let _ = reconstruct;
//! # Ok::<(), shroud::mpc::MpcError>(())
//! ```

pub mod dealer;
pub mod error;
pub mod fixed;
pub mod infer;
pub mod ops;
pub mod paillier_offline;
pub mod party;
pub mod share;
pub mod spdz;
pub mod stats;
pub mod triples;

pub use dealer::{Corrections, Dealer, Dealt, Material, Request, Seed, SessionId};
pub use error::MpcError;
pub use fixed::FractionalBits;
pub use party::{Mesh, Party};
pub use share::{Shared, reconstruct, share};
pub use triples::{BeaverTriples, MatrixTriple, SquarePairs, TripleSource, TruncPairs};

/// A source with no correlated randomness, for computations that only add and open.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRandomness;

impl TripleSource for NoRandomness {
    fn triples(&mut self, _: usize) -> Result<BeaverTriples, MpcError> {
        Err(MpcError::Exhausted(
            "this computation has no correlated randomness".into(),
        ))
    }
    fn squares(&mut self, _: usize) -> Result<SquarePairs, MpcError> {
        Err(MpcError::Exhausted(
            "this computation has no correlated randomness".into(),
        ))
    }
    fn matrix_triple(&mut self, _: usize, _: usize, _: usize) -> Result<MatrixTriple, MpcError> {
        Err(MpcError::Exhausted(
            "this computation has no correlated randomness".into(),
        ))
    }
    fn trunc_pairs(&mut self, _: usize, _: u32) -> Result<TruncPairs, MpcError> {
        Err(MpcError::Exhausted(
            "this computation has no correlated randomness".into(),
        ))
    }
}
