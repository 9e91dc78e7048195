//! Aggregation rules over plaintext updates: the weighted mean (FedAvg), the coordinate
//! median, the trimmed mean, Krum and multi-Krum (Blanchard et al. 2017), and L2 norm
//! bounding.
//!
//! The robust rules need to see every update: that is why they cannot run under secure
//! aggregation, where the coordinator sees only the sum (see the README). Norm bounding is
//! the one defence that survives it, since each participant applies it to its own update.

use super::error::FlError;

/// A robust aggregation rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RobustRule {
    /// The coordinate-wise median.
    Median,
    /// The coordinate-wise mean after dropping the `fraction` largest and smallest values
    /// of each coordinate (fraction in [0, 0.5)).
    TrimmedMean {
        /// Fraction trimmed from each end.
        fraction: f64,
    },
    /// Krum: the update closest to its m - f - 2 nearest others, for at most f attackers.
    Krum {
        /// Attackers tolerated.
        f: usize,
    },
    /// Multi-Krum: the mean of the `m` updates with the best Krum scores.
    MultiKrum {
        /// Attackers tolerated.
        f: usize,
        /// Updates averaged.
        m: usize,
    },
}

impl RobustRule {
    /// Parses `median`, `trimmed-mean:F`, `krum:F` or `multi-krum:F:M`.
    ///
    /// # Errors
    /// [`FlError::InvalidConfig`] for anything else.
    pub fn parse(s: &str) -> Result<Self, FlError> {
        let bad = || {
            FlError::InvalidConfig(format!(
                "robust rule {s:?}: expected median, trimmed-mean:F (0 <= F < 0.5), krum:F \
                 or multi-krum:F:M"
            ))
        };
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["median"] => Ok(RobustRule::Median),
            ["trimmed-mean", f] => {
                let fraction: f64 = f.parse().map_err(|_| bad())?;
                if !(0.0..0.5).contains(&fraction) {
                    return Err(bad());
                }
                Ok(RobustRule::TrimmedMean { fraction })
            }
            ["krum", f] => Ok(RobustRule::Krum {
                f: f.parse().map_err(|_| bad())?,
            }),
            ["multi-krum", f, m] => {
                let m: usize = m.parse().map_err(|_| bad())?;
                if m == 0 {
                    return Err(bad());
                }
                Ok(RobustRule::MultiKrum {
                    f: f.parse().map_err(|_| bad())?,
                    m,
                })
            }
            _ => Err(bad()),
        }
    }

    /// The fewest updates the rule is defined for.
    pub fn min_updates(&self) -> usize {
        match *self {
            RobustRule::Median | RobustRule::TrimmedMean { .. } => 1,
            // Krum's score sums the m - f - 2 nearest distances: it needs m > f + 2.
            RobustRule::Krum { f } => f + 3,
            RobustRule::MultiKrum { f, m } => (f + 3).max(m),
        }
    }

    /// Aggregates `updates` (all of one length).
    ///
    /// # Errors
    /// [`FlError::TooFewParticipants`] (with round 0; the caller fills it in) when the
    /// rule needs more updates.
    pub fn aggregate(&self, updates: &[Vec<f64>]) -> Result<Vec<f64>, FlError> {
        let need = self.min_updates();
        if updates.len() < need || updates.is_empty() {
            return Err(FlError::TooFewParticipants {
                round: 0,
                joined: updates.len(),
                needed: need.max(1),
            });
        }
        Ok(match *self {
            RobustRule::Median => per_coordinate(updates, |col| {
                let n = col.len();
                if n % 2 == 1 {
                    col[n / 2]
                } else {
                    0.5 * (col[n / 2 - 1] + col[n / 2])
                }
            }),
            RobustRule::TrimmedMean { fraction } => per_coordinate(updates, |col| {
                let cut = (fraction * col.len() as f64).floor() as usize;
                let kept = &col[cut..col.len() - cut];
                kept.iter().sum::<f64>() / kept.len() as f64
            }),
            RobustRule::Krum { f } => updates[krum_order(updates, f)[0]].clone(),
            RobustRule::MultiKrum { f, m } => {
                let order = krum_order(updates, f);
                let chosen: Vec<Vec<f64>> =
                    order[..m].iter().map(|&i| updates[i].clone()).collect();
                mean(&chosen)
            }
        })
    }
}

/// Applies `f` to each coordinate's values, sorted.
fn per_coordinate(updates: &[Vec<f64>], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let d = updates[0].len();
    let mut col = vec![0.0; updates.len()];
    (0..d)
        .map(|j| {
            for (c, u) in col.iter_mut().zip(updates) {
                *c = u[j];
            }
            col.sort_by(f64::total_cmp);
            f(&col)
        })
        .collect()
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Indices sorted by Krum score (best first): the sum of squared distances to the
/// m - f - 2 nearest other updates.
fn krum_order(updates: &[Vec<f64>], f: usize) -> Vec<usize> {
    let m = updates.len();
    let nearest = m.saturating_sub(f + 2).max(1);
    let scores: Vec<f64> = (0..m)
        .map(|i| {
            let mut d: Vec<f64> = (0..m)
                .filter(|&j| j != i)
                .map(|j| sq_dist(&updates[i], &updates[j]))
                .collect();
            d.sort_by(f64::total_cmp);
            d.iter().take(nearest).sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

/// The unweighted mean.
pub fn mean(updates: &[Vec<f64>]) -> Vec<f64> {
    let w = vec![1.0; updates.len()];
    weighted_mean(updates, &w)
}

/// The mean weighted by `weights` (FedAvg weights updates by data size).
pub fn weighted_mean(updates: &[Vec<f64>], weights: &[f64]) -> Vec<f64> {
    let d = updates.first().map_or(0, Vec::len);
    let total: f64 = weights.iter().sum();
    let mut out = vec![0.0; d];
    for (u, &w) in updates.iter().zip(weights) {
        for (o, x) in out.iter_mut().zip(u) {
            *o += w * x;
        }
    }
    if total > 0.0 {
        out.iter_mut().for_each(|o| *o /= total);
    }
    out
}

/// L2 norm.
pub fn l2_norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Scales `x` down to L2 norm at most `bound` (norm bounding).
pub fn clip_norm(x: &mut [f64], bound: f64) {
    let n = l2_norm(x);
    if n > bound && n > 0.0 {
        let s = bound / n;
        x.iter_mut().for_each(|v| *v *= s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_on_a_small_case() {
        let u = vec![
            vec![1.0, 10.0],
            vec![2.0, 20.0],
            vec![3.0, 30.0],
            vec![100.0, -1000.0],
        ];
        assert_eq!(RobustRule::Median.aggregate(&u).unwrap(), vec![2.5, 15.0]);
        let t = RobustRule::TrimmedMean { fraction: 0.25 };
        assert_eq!(t.aggregate(&u).unwrap(), vec![2.5, 15.0]);
        // With f = 1, Krum scores by the single nearest neighbour: 1 and 2 tie with
        // 2 and 3 at distance 101; the lowest index wins.
        let k = RobustRule::Krum { f: 1 }.aggregate(&u).unwrap();
        assert_eq!(k, vec![1.0, 10.0]);
        let mk = RobustRule::MultiKrum { f: 1, m: 3 }.aggregate(&u).unwrap();
        assert_eq!(mk, vec![2.0, 20.0]);
        assert!(RobustRule::Krum { f: 2 }.aggregate(&u).is_err());
        assert_eq!(weighted_mean(&u[..2], &[1.0, 3.0]), vec![1.75, 17.5]);
        let mut x = vec![3.0, 4.0];
        clip_norm(&mut x, 1.0);
        assert!((l2_norm(&x) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn parsing() {
        assert_eq!(RobustRule::parse("median").unwrap(), RobustRule::Median);
        assert_eq!(
            RobustRule::parse("multi-krum:1:3").unwrap(),
            RobustRule::MultiKrum { f: 1, m: 3 }
        );
        for bad in ["", "trimmed-mean:0.5", "krum:x", "multi-krum:1:0", "mean"] {
            assert!(RobustRule::parse(bad).is_err(), "{bad}");
        }
    }
}
