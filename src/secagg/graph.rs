//! The neighbour graph: who masks with whom and who holds whose shares.
//!
//! - [`GraphKind::Complete`]: every client is a neighbour of every other (Bonawitz et al.
//!   2017).
//! - [`GraphKind::Harary`]: SecAgg+ (Bell et al. 2020). The Harary graph H(k, n) with k
//!   even joins each position on a cycle of n to the k/2 positions on either side; clients
//!   are placed on the cycle by a uniformly random permutation drawn from the public
//!   session seed, so each client's k neighbours are a uniformly random k-subset of the
//!   others.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::ClientId;

/// Which neighbour graph a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphKind {
    /// Everyone is everyone's neighbour (SecAgg).
    Complete,
    /// A random k-regular Harary graph (SecAgg+).
    Harary,
}

impl core::fmt::Display for GraphKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            GraphKind::Complete => "complete",
            GraphKind::Harary => "harary",
        })
    }
}

impl core::str::FromStr for GraphKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "complete" => Ok(GraphKind::Complete),
            "harary" => Ok(GraphKind::Harary),
            _ => Err(format!("unknown graph {s:?}: use complete or harary")),
        }
    }
}

/// A neighbour graph on clients `0..n`, fixed by the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    n: u32,
    /// Neighbours on each side of the cycle (Harary), or `None` for the complete graph.
    half: Option<u32>,
    /// `pos[u]`: client u's position on the cycle.
    pos: Vec<u32>,
    /// `at[p]`: the client at position p.
    at: Vec<u32>,
}

impl Graph {
    /// The complete graph on n clients.
    pub fn complete(n: u32) -> Self {
        Graph {
            n,
            half: None,
            pos: Vec::new(),
            at: Vec::new(),
        }
    }

    /// H(k, n) under the permutation drawn from `seed` (public). `k` must be even and
    /// below n - 1 (the caller, [`super::Params`], checks); larger degrees give the
    /// complete graph.
    pub fn harary(n: u32, k: u32, seed: &[u8; 32]) -> Self {
        if k >= n.saturating_sub(1) || k < 2 {
            return Self::complete(n);
        }
        let mut rng = ChaCha20Rng::from_seed(*seed);
        let mut at: Vec<u32> = (0..n).collect();
        // Fisher-Yates with rejection sampling (unbiased). Variable time over the public
        // seed only.
        for i in (1..n as usize).rev() {
            let bound = i as u64 + 1;
            let zone = u64::MAX - (u64::MAX % bound);
            let j = loop {
                let r = rng.next_u64();
                if r < zone {
                    break (r % bound) as usize;
                }
            };
            at.swap(i, j);
        }
        let mut pos = vec![0u32; n as usize];
        for (p, &u) in at.iter().enumerate() {
            pos[u as usize] = p as u32;
        }
        Graph {
            n,
            half: Some(k / 2),
            pos,
            at,
        }
    }

    /// Number of clients.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// Degree of every client.
    pub fn degree(&self) -> u32 {
        match self.half {
            None => self.n.saturating_sub(1),
            Some(h) => 2 * h,
        }
    }

    /// Whether the graph is complete.
    pub fn is_complete(&self) -> bool {
        self.half.is_none()
    }

    /// Whether `u` and `v` are distinct neighbours (false for an id out of range).
    pub fn is_neighbour(&self, u: ClientId, v: ClientId) -> bool {
        if u == v || u >= self.n || v >= self.n {
            return false;
        }
        match self.half {
            None => true,
            Some(h) => {
                let (a, b) = (self.pos[u as usize], self.pos[v as usize]);
                let d = a.abs_diff(b);
                d.min(self.n - d) <= h
            }
        }
    }

    /// `u`'s neighbours, ascending (empty for an id out of range).
    pub fn neighbours(&self, u: ClientId) -> Vec<ClientId> {
        if u >= self.n {
            return Vec::new();
        }
        match self.half {
            None => (0..self.n).filter(|&v| v != u).collect(),
            Some(h) => {
                let p = self.pos[u as usize];
                let mut out: Vec<ClientId> = (1..=h)
                    .flat_map(|d| [(p + d) % self.n, (p + self.n - d) % self.n])
                    .map(|q| self.at[q as usize])
                    .collect();
                out.sort_unstable();
                out
            }
        }
    }

    /// `u`'s share holders: its neighbours and itself, ascending.
    pub fn holders(&self, u: ClientId) -> Vec<ClientId> {
        let mut h = self.neighbours(u);
        if u < self.n {
            let i = h.partition_point(|&v| v < u);
            h.insert(i, u);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harary_is_k_regular_and_symmetric() {
        for (n, k) in [(10u32, 4u32), (11, 6), (50, 8), (7, 2)] {
            let g = Graph::harary(n, k, &[3u8; 32]);
            for u in 0..n {
                let nb = g.neighbours(u);
                assert_eq!(nb.len(), k as usize, "n {n} k {k} u {u}");
                for &v in &nb {
                    assert!(g.is_neighbour(v, u) && g.is_neighbour(u, v));
                }
                let count = (0..n).filter(|&v| g.is_neighbour(u, v)).count();
                assert_eq!(count, k as usize);
            }
        }
    }

    #[test]
    fn seed_changes_the_graph_and_complete_is_complete() {
        let a = Graph::harary(40, 6, &[1u8; 32]);
        let b = Graph::harary(40, 6, &[2u8; 32]);
        assert_ne!(a, b);
        let c = Graph::complete(5);
        assert_eq!(c.neighbours(2), vec![0, 1, 3, 4]);
        assert_eq!(c.holders(2), vec![0, 1, 2, 3, 4]);
        assert!(!c.is_neighbour(2, 2) && !c.is_neighbour(2, 5));
        assert!(Graph::harary(5, 4, &[0u8; 32]).is_complete());
    }
}
