//! Session parameters: sizes, the modulus, the neighbour graph and the threshold, derived
//! from the number of clients and the dropout and corruption rates to tolerate.
//!
//! # How k and t are chosen
//! A client's *share holders* are its neighbours and itself (k + 1 of them); t of them
//! reconstruct its secrets. C = floor(gamma n) clients may be corrupted (colluding with
//! the server) and D = floor(delta n) may drop out. The 40 bits of statistical security
//! are split between the two ways to leak (each at most 2^-41); correctness (no abort
//! within the tolerated dropouts) is asked to 2^-20.
//!
//! - **Leak through corrupted holders**: every honest client must have fewer than t
//!   corrupted holders. With a* the largest number of corrupted holders that occurs with
//!   probability above 2^-41 / n, t > a*.
//! - **Leak through a disconnected graph**: the honest survivors' subgraph must be
//!   connected (otherwise the server learns partial sums).
//! - **A lying server** ([`Tolerance::with_lying_server`], for the consistency-check
//!   round): a server that tells some holders of u that u dropped and others that it
//!   survived collects shares of both of u's secrets if the corrupted holders (who answer
//!   both) plus each half of the honest ones reach t. That needs 2t <= a + k + 1 for a
//!   corrupted holders, so t > (a* + k + 1) / 2.
//! - In every case t > (k + 1) / 2 as well: two disjoint sets of holders never both reach
//!   t. This is what a networked client can check on its own ([`Params::custom`]), and
//!   it makes the thresholds larger than Google's finder picks for a curious server when
//!   few clients are corrupted (see `tests/kat_secagg_graph.rs`).
//! - **Correctness**: every client needs at least t live holders at the end.
//!
//! Complete graph: holders = n, t = max(C + 1, floor(n / 2) + 1), or floor((C + n) / 2) + 1
//! against a lying server, and it must hold that n - D >= t. These hold with certainty.
//!
//! Harary graph (SecAgg+, Bell et al. 2020): each client's k neighbours are a uniform
//! k-subset of the others, independent of which clients are corrupted or drop out (the
//! session seed is drawn by the server after enrolment). With
//! X ~ Hypergeometric(n - 1, C, k) and Y ~ Hypergeometric(n - 1, D, k):
//! - P[some honest client has t corrupted holders] <= n P[X >= t] <= 2^-41;
//! - P[the honest survivors are disconnected] <= 2^-41: on the cycle, the survivors'
//!   subgraph of H(k, n) is disconnected only if two disjoint runs of k/2 consecutive
//!   positions are all corrupted or dropped. There are at most n (n - k - 1) / 2 such
//!   pairs of runs, and a given set of k positions is all removed with probability
//!   (C + D)! (n - k)! / (n! (C + D - k)!) (drawing without replacement);
//! - P[some client has fewer than t live holders] <= n P[Y > k - t] <= 2^-20 (a failure
//!   here is a clean abort, not a leak).
//!
//! [`Params::derive`] takes the smallest even k (and the smallest t for it) meeting the
//! bounds; when none below n - 1 does, it falls back to the complete graph, and when that
//! fails too it refuses. `tests/kat_secagg_graph.rs` compares the choices with the table
//! published with Google's federated-compute graph-parameter finder.

use sha2::{Digest, Sha256};

use super::ClientId;
use super::error::SecAggError;
use super::graph::{Graph, GraphKind};

/// Most clients in a session.
pub const MAX_CLIENTS: u32 = 1 << 20;
/// Longest input vector.
pub const MAX_DIM: u32 = 1 << 27;
/// Largest SecAgg+ degree searched (the search costs O(k^2) for the degrees it tries;
/// a configuration that needs more gets the complete graph, or is refused).
pub const MAX_HARARY_DEGREE: u32 = 4096;
/// Security target: log2 of the largest accepted probability of a leak.
pub const SECURITY_BITS: f64 = 40.0;
/// Correctness target: log2 of the largest accepted probability of an abort within the
/// tolerated dropout rate.
pub const CORRECTNESS_BITS: f64 = 20.0;

/// Tolerated dropout and corruption rates: fractions of the n clients, each in [0, 1),
/// summing below 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    dropout: f64,
    corrupt: f64,
    lying_server: bool,
}

impl Tolerance {
    /// Checked rates.
    ///
    /// # Errors
    /// [`SecAggError::InsecureParams`] for NaN, negative rates, or rates summing to 1 or
    /// more.
    pub fn new(dropout: f64, corrupt: f64) -> Result<Self, SecAggError> {
        let ok = |x: f64| x.is_finite() && (0.0..1.0).contains(&x);
        if !ok(dropout) || !ok(corrupt) || dropout + corrupt >= 1.0 {
            return Err(SecAggError::InsecureParams(format!(
                "dropout {dropout} and corruption {corrupt} must be in [0, 1) and sum below 1"
            )));
        }
        Ok(Tolerance {
            dropout,
            corrupt,
            lying_server: false,
        })
    }

    /// The same rates against a server that may lie about who dropped out (the threat
    /// the consistency-check round answers): the threshold is raised so that the
    /// corrupted holders plus half of the honest ones never reach it (see the module doc).
    /// Parameters derived this way are the only derived ones the consistency check
    /// accepts.
    pub fn with_lying_server(self) -> Self {
        Tolerance {
            lying_server: true,
            ..self
        }
    }

    /// Whether the server may lie about dropouts.
    pub fn lying_server(&self) -> bool {
        self.lying_server
    }

    /// Fraction of clients that may drop out.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Fraction of clients that may collude with the server.
    pub fn corrupt(&self) -> f64 {
        self.corrupt
    }
}

/// log2 of the failure probabilities of a derived configuration (0 for the complete
/// graph's certain guarantees is written as negative infinity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureBounds {
    /// Some honest client has t corrupted holders.
    pub leak_log2: f64,
    /// The honest survivors' subgraph is disconnected.
    pub disconnect_log2: f64,
    /// Some client ends with fewer than t live holders (the session aborts).
    pub abort_log2: f64,
}

/// The public parameters of one session, which the server and every client agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    session_id: [u8; 32],
    dim: u32,
    input_bits: u32,
    modulus_bits: u32,
    threshold: u32,
    kind: GraphKind,
    graph: Graph,
    bounds: Option<FailureBounds>,
    /// For derived parameters: whether they hold against a server lying about dropouts.
    lying_server: Option<bool>,
}

fn ceil_log2(n: u32) -> u32 {
    32 - n.saturating_sub(1).leading_zeros()
}

fn ln_choose(n: u32, k: u32) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    let f = |x: u32| libm::lgamma(f64::from(x) + 1.0);
    f(n) - f(k) - f(n - k)
}

/// ln P[X = i] for i in 0..=draws, X ~ Hypergeometric(population, successes, draws).
fn hypergeom_ln_pmf(population: u32, successes: u32, draws: u32) -> Vec<f64> {
    let total = ln_choose(population, draws);
    (0..=draws)
        .map(|i| {
            if i > successes || draws - i > population - successes {
                f64::NEG_INFINITY
            } else {
                ln_choose(successes, i) + ln_choose(population - successes, draws - i) - total
            }
        })
        .collect()
}

/// log2 of the upper tails: `out[i]` = log2 P[X >= i], for i in 0..=draws + 1.
fn upper_tails_log2(ln_pmf: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NEG_INFINITY; ln_pmf.len() + 1];
    let mut acc = f64::NEG_INFINITY;
    for i in (0..ln_pmf.len()).rev() {
        let (a, b) = (acc.max(ln_pmf[i]), acc.min(ln_pmf[i]));
        acc = if a == f64::NEG_INFINITY {
            a
        } else {
            a + (b - a).exp().ln_1p()
        };
        out[i] = acc / std::f64::consts::LN_2;
    }
    out
}

fn graph_seed(session_id: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"shroud-secagg-v1 graph seed");
    h.update(session_id);
    h.finalize().into()
}

/// Per-event security target: the two ways to leak share the 2^-40.
const LEAK_TARGET_LOG2: f64 = -(SECURITY_BITS + 1.0);

/// log2 of the bound on the honest survivors' subgraph of H(k, n) being disconnected
/// when `removed` of the n clients are corrupted or dropped (see the module doc).
fn disconnect_log2(n: u32, k: u32, removed: u32) -> f64 {
    if k > removed || k + 1 >= n {
        return f64::NEG_INFINITY;
    }
    let lg = |x: u32| libm::lgamma(f64::from(x) + 1.0);
    let pairs = f64::from(n).ln() + f64::from(n - k - 1).ln() - std::f64::consts::LN_2;
    let all_removed = lg(removed) + lg(n - k) - lg(n) - lg(removed - k);
    ((pairs + all_removed) / std::f64::consts::LN_2).min(0.0)
}

/// The Harary bounds for degree k and threshold t (see the module doc).
fn harary_bounds(n: u32, k: u32, t: u32, c: u32, d: u32) -> FailureBounds {
    let log_n = f64::from(n).log2();
    let sec = upper_tails_log2(&hypergeom_ln_pmf(n - 1, c, k));
    let drop = upper_tails_log2(&hypergeom_ln_pmf(n - 1, d, k));
    FailureBounds {
        leak_log2: log_n + sec[t as usize],
        disconnect_log2: disconnect_log2(n, k, c + d),
        abort_log2: (log_n + drop[(k + 1 - t) as usize]).min(0.0),
    }
}

/// The smallest threshold for degree k: above a*, above half the holders, and against a
/// lying server above (a* + k + 1) / 2; `None` if even t = k + 1 leaks.
fn smallest_threshold(n: u32, k: u32, c: u32, lying_server: bool) -> Option<u32> {
    let log_n = f64::from(n).log2();
    let sec = upper_tails_log2(&hypergeom_ln_pmf(n - 1, c, k));
    // a* = the largest count of corrupted holders not ruled out: P[X >= a* + 1] small.
    let a = (0..=k).find(|&a| log_n + sec[a as usize + 1] <= LEAK_TARGET_LOG2)?;
    let mut t = (a + 1).max(k / 2 + 1);
    if lying_server {
        t = t.max((a + k).div_ceil(2) + 1);
    }
    (t <= k + 1).then_some(t)
}

impl Params {
    /// Parameters for `n` clients with vectors of `dim` values below 2^`input_bits`,
    /// tolerating `tol`, with the threshold (and for SecAgg+ the degree) chosen as the
    /// module doc says. The modulus is 2^(input_bits + ceil(log2 n)), so the sum of n
    /// inputs never wraps.
    ///
    /// # Errors
    /// [`SecAggError::InsecureParams`] if no degree and threshold meet the bounds, if
    /// fewer than 2 or more than [`MAX_CLIENTS`] clients, a dimension of 0 or over
    /// [`MAX_DIM`], or a modulus over 2^64.
    pub fn derive(
        n: u32,
        dim: u32,
        input_bits: u32,
        kind: GraphKind,
        tol: Tolerance,
        session_id: [u8; 32],
    ) -> Result<Self, SecAggError> {
        let modulus_bits = Self::check_sizes(n, dim, input_bits)?;
        let c = (tol.corrupt * f64::from(n)).floor() as u32;
        let d = (tol.dropout * f64::from(n)).floor() as u32;
        if kind == GraphKind::Harary {
            let mut k = 2;
            while k < (n - 1).min(MAX_HARARY_DEGREE) {
                // The disconnection bound needs no tails: skip degrees that fail it.
                if disconnect_log2(n, k, c + d) > LEAK_TARGET_LOG2 {
                    k += 2;
                    continue;
                }
                if let Some(t) = smallest_threshold(n, k, c, tol.lying_server) {
                    let b = harary_bounds(n, k, t, c, d);
                    if b.abort_log2 <= -CORRECTNESS_BITS {
                        let graph = Graph::harary(n, k, &graph_seed(&session_id));
                        return Ok(Params {
                            session_id,
                            dim,
                            input_bits,
                            modulus_bits,
                            threshold: t,
                            kind,
                            graph,
                            bounds: Some(b),
                            lying_server: Some(tol.lying_server),
                        });
                    }
                }
                k += 2;
            }
        }
        // Complete graph (or SecAgg+ falling back to it).
        let t = if tol.lying_server {
            (c + n) / 2 + 1
        } else {
            (c + 1).max(n / 2 + 1)
        };
        if n - d < t {
            return Err(SecAggError::InsecureParams(format!(
                "{n} clients cannot tolerate {d} dropouts and {c} corrupted clients: \
                 the threshold must be at least {t}, and only {} clients would remain",
                n - d
            )));
        }
        Ok(Params {
            session_id,
            dim,
            input_bits,
            modulus_bits,
            threshold: t,
            kind,
            graph: Graph::complete(n),
            bounds: Some(FailureBounds {
                leak_log2: f64::NEG_INFINITY,
                disconnect_log2: f64::NEG_INFINITY,
                abort_log2: f64::NEG_INFINITY,
            }),
            lying_server: Some(tol.lying_server),
        })
    }

    /// Parameters with an explicit degree (ignored for the complete graph) and threshold,
    /// for tests and for deployments that computed them elsewhere. Only the structural
    /// conditions are checked: 2 <= k < n - 1 and even (Harary), and
    /// (k + 1) / 2 < t <= k + 1. No failure bounds are attached.
    ///
    /// # Errors
    /// [`SecAggError::InsecureParams`] when a condition fails, and as [`Params::derive`]
    /// for the sizes.
    pub fn custom(
        n: u32,
        dim: u32,
        input_bits: u32,
        kind: GraphKind,
        degree: u32,
        threshold: u32,
        session_id: [u8; 32],
    ) -> Result<Self, SecAggError> {
        let modulus_bits = Self::check_sizes(n, dim, input_bits)?;
        let graph = match kind {
            GraphKind::Complete => Graph::complete(n),
            GraphKind::Harary => {
                if degree < 2 || degree % 2 == 1 || degree >= n - 1 {
                    return Err(SecAggError::InsecureParams(format!(
                        "a Harary degree must be even, at least 2 and below n - 1 = {}; got {degree}",
                        n - 1
                    )));
                }
                Graph::harary(n, degree, &graph_seed(&session_id))
            }
        };
        let holders = graph.degree() + 1;
        if 2 * threshold <= holders || threshold > holders {
            return Err(SecAggError::InsecureParams(format!(
                "the threshold must be above half of the {holders} share holders and at most \
                 {holders}; got {threshold}"
            )));
        }
        Ok(Params {
            session_id,
            dim,
            input_bits,
            modulus_bits,
            threshold,
            kind,
            graph,
            bounds: None,
            lying_server: None,
        })
    }

    fn check_sizes(n: u32, dim: u32, input_bits: u32) -> Result<u32, SecAggError> {
        if !(2..=MAX_CLIENTS).contains(&n) {
            return Err(SecAggError::InsecureParams(format!(
                "{n} clients: a session needs 2 to {MAX_CLIENTS}"
            )));
        }
        if !(1..=MAX_DIM).contains(&dim) {
            return Err(SecAggError::InsecureParams(format!(
                "dimension {dim}: must be 1 to {MAX_DIM}"
            )));
        }
        let modulus_bits = input_bits + ceil_log2(n);
        if input_bits == 0 || modulus_bits > 64 {
            return Err(SecAggError::InsecureParams(format!(
                "inputs of {input_bits} bits summed over {n} clients need a modulus of 2^{modulus_bits}, \
                 over 2^64: the sum could wrap"
            )));
        }
        Ok(modulus_bits)
    }

    /// The public session identifier (also the seed of the graph).
    pub fn session_id(&self) -> &[u8; 32] {
        &self.session_id
    }
    /// Number of clients.
    pub fn n(&self) -> u32 {
        self.graph.n()
    }
    /// Vector length.
    pub fn dim(&self) -> usize {
        self.dim as usize
    }
    /// Inputs are below 2^input_bits.
    pub fn input_bits(&self) -> u32 {
        self.input_bits
    }
    /// Arithmetic is modulo 2^modulus_bits.
    pub fn modulus_bits(&self) -> u32 {
        self.modulus_bits
    }
    /// The Shamir threshold t.
    pub fn threshold(&self) -> usize {
        self.threshold as usize
    }
    /// The graph kind asked for (a Harary session may have fallen back to the complete
    /// graph: see [`Params::graph`]).
    pub fn kind(&self) -> GraphKind {
        self.kind
    }
    /// The neighbour graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    /// For derived parameters, whether they were derived against a server that may lie
    /// about dropouts ([`Tolerance::with_lying_server`]); `None` for [`Params::custom`].
    pub fn lying_server(&self) -> Option<bool> {
        self.lying_server
    }
    /// The failure bounds, for derived parameters.
    pub fn bounds(&self) -> Option<FailureBounds> {
        self.bounds
    }
    /// Bytes per element of a masked vector on the wire.
    pub fn wire_bytes(&self) -> usize {
        self.modulus_bits.div_ceil(8) as usize
    }
    /// 2^modulus_bits - 1.
    pub fn mask(&self) -> u64 {
        if self.modulus_bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.modulus_bits) - 1
        }
    }
    pub(crate) fn check_client(&self, id: ClientId) -> Result<(), SecAggError> {
        if id >= self.n() {
            return Err(SecAggError::InvalidInput(format!(
                "client id {id} is not below n = {}",
                self.n()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_sum_to_one_and_match_a_small_case() {
        // Hypergeometric(10, 4, 3): P[X >= 3] = C(4,3)/C(10,3) = 4/120.
        let t = upper_tails_log2(&hypergeom_ln_pmf(10, 4, 3));
        assert!(t[0].abs() < 1e-12);
        assert!((t[3] - (4.0f64 / 120.0).log2()).abs() < 1e-9);
        assert_eq!(t[4], f64::NEG_INFINITY);
    }

    #[test]
    fn derived_parameters_meet_their_bounds() {
        let tol = Tolerance::new(0.1, 0.1).unwrap();
        let p = Params::derive(1000, 10, 16, GraphKind::Harary, tol, [0; 32]).unwrap();
        let b = p.bounds().unwrap();
        assert!(!p.graph().is_complete());
        assert!(b.leak_log2 <= -40.0 && b.disconnect_log2 <= -40.0 && b.abort_log2 <= -20.0);
        assert!(2 * p.threshold() > p.graph().degree() as usize + 1);
        let c = Params::derive(500, 10, 16, GraphKind::Complete, tol, [0; 32]).unwrap();
        assert_eq!(c.threshold(), 251);
        assert_eq!(c.modulus_bits(), 25);
    }

    #[test]
    fn figures_quoted_in_the_readme() {
        // n = 500, gamma = 0.1 (tests/kat_secagg_graph.rs checks the derivation against
        // Google's published table).
        for (delta, k, t) in [(0.0, 18, 17), (0.1, 42, 24), (0.3, 142, 72)] {
            let tol = Tolerance::new(delta, 0.1).unwrap();
            let p = Params::derive(500, 1, 16, GraphKind::Harary, tol, [0; 32]).unwrap();
            assert_eq!(
                (p.graph().degree(), p.threshold()),
                (k, t as usize),
                "delta {delta}"
            );
        }
    }

    #[test]
    fn a_lying_server_gets_a_threshold_above_corrupted_plus_half_the_rest() {
        let tol = Tolerance::new(0.05, 0.2).unwrap();
        for n in [50, 400, 3000] {
            let p = Params::derive(
                n,
                1,
                16,
                GraphKind::Harary,
                tol.with_lying_server(),
                [0; 32],
            )
            .unwrap();
            let (k, t) = (p.graph().degree(), p.threshold() as u32);
            // a* at the per-event target, recomputed here from the tails.
            let c = (0.2 * f64::from(n)).floor() as u32;
            let sec = upper_tails_log2(&hypergeom_ln_pmf(n - 1, c, k.min(n - 1)));
            let log_n = f64::from(n).log2();
            let a = (0..=k)
                .find(|&a| log_n + sec[a as usize + 1] <= -41.0)
                .unwrap();
            assert!(2 * t > a + k + 1, "n {n}: k {k} t {t} a* {a}");
            assert_eq!(p.lying_server(), Some(true));
            let q = Params::derive(n, 1, 16, GraphKind::Harary, tol, [0; 32]).unwrap();
            assert!(q.threshold() as u32 <= t && q.lying_server() == Some(false));
        }
        let c = Params::derive(
            10,
            1,
            16,
            GraphKind::Complete,
            tol.with_lying_server(),
            [0; 32],
        )
        .unwrap();
        assert_eq!(c.threshold(), 7); // floor((2 + 10) / 2) + 1
    }

    #[test]
    fn hopeless_large_sessions_are_refused_quickly() {
        let tol = Tolerance::new(0.5, 0.4).unwrap();
        let t = std::time::Instant::now();
        assert!(Params::derive(1 << 20, 1, 8, GraphKind::Harary, tol, [0; 32]).is_err());
        assert!(t.elapsed().as_secs() < 30);
    }

    #[test]
    fn refuses_what_cannot_be_secure_or_correct() {
        assert!(Tolerance::new(0.6, 0.5).is_err());
        assert!(Tolerance::new(f64::NAN, 0.0).is_err());
        let tol = Tolerance::new(0.6, 0.0).unwrap();
        assert!(Params::derive(100, 10, 16, GraphKind::Complete, tol, [0; 32]).is_err());
        let ok = Tolerance::new(0.0, 0.0).unwrap();
        assert!(Params::derive(100, 10, 60, GraphKind::Complete, ok, [0; 32]).is_err());
        assert!(Params::custom(10, 4, 8, GraphKind::Complete, 0, 5, [0; 32]).is_err());
        assert!(Params::custom(10, 4, 8, GraphKind::Harary, 3, 3, [0; 32]).is_err());
        assert!(Params::custom(10, 4, 8, GraphKind::Harary, 4, 3, [0; 32]).is_ok());
    }
}
