//! Renyi-DP accountant for the Poisson-subsampled Gaussian mechanism (DP-SGD), with the
//! orders of Google's dp_accounting and the conversion to (epsilon, delta) of Balle, Barthe,
//! Gaboardi, Hsu and Sato (2020), "Hypothesis testing interpretations and Renyi differential
//! privacy", as dp_accounting's `RdpAccountant` computes it.
//!
//! ```
//! use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
//! use shroud::dp::rdp::RdpAccountant;
//! let mut acc = RdpAccountant::new();
//! acc.compose_poisson_subsampled_gaussian(
//!     SamplingRate::new(0.01).unwrap(), NoiseMultiplier::new(4.0).unwrap(), 10_000);
//! let (eps, order) = acc.epsilon(Delta::new(1e-5).unwrap()).unwrap();
//! assert!((eps - 1.0354900660362436).abs() < 1e-6); // dp_accounting 0.6.0
//! assert!(order > 1.0);
//! ```
//!
//! # Privacy
//! The RDP of each order is an upper bound (fractional orders sum the absolute values of
//! the series' terms, as dp_accounting 0.6 does); the conversion picks the smallest epsilon
//! over the orders, each of which is a valid bound.

use super::{Delta, DpError, NoiseMultiplier, SamplingRate};

/// dp_accounting's default orders: 1 + x/10 for x in 1..=99, then 11..=63, then 128, 256,
/// 512, 1024.
pub fn default_orders() -> Vec<f64> {
    let mut v: Vec<f64> = (1..100).map(|x| 1.0 + f64::from(x) / 10.0).collect();
    v.extend((11..64).map(f64::from));
    v.extend([128.0, 256.0, 512.0, 1024.0]);
    v
}

/// An RDP accountant: the running RDP curve over a fixed set of orders.
#[derive(Clone, Debug)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl RdpAccountant {
    /// With [`default_orders`].
    pub fn new() -> Self {
        let orders = default_orders();
        let rdp = vec![0.0; orders.len()];
        RdpAccountant { orders, rdp }
    }

    /// With custom orders (each > 1 and finite).
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for an empty list or an order <= 1.
    pub fn with_orders(orders: Vec<f64>) -> Result<Self, DpError> {
        if orders.is_empty() || orders.iter().any(|a| !(a.is_finite() && *a > 1.0)) {
            return Err(DpError::InvalidParameter(
                "orders must be finite and greater than 1".into(),
            ));
        }
        let rdp = vec![0.0; orders.len()];
        Ok(RdpAccountant { orders, rdp })
    }

    /// The orders.
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// The accumulated RDP at each order.
    pub fn rdp(&self) -> &[f64] {
        &self.rdp
    }

    /// Composes `steps` runs of the Poisson-subsampled Gaussian mechanism (sampling rate q,
    /// noise multiplier sigma, sensitivity 1).
    pub fn compose_poisson_subsampled_gaussian(
        &mut self,
        q: SamplingRate,
        sigma: NoiseMultiplier,
        steps: u64,
    ) {
        for (r, a) in self.rdp.iter_mut().zip(&self.orders) {
            *r += steps as f64 * subsampled_gaussian_rdp(q.get(), sigma.get(), *a);
        }
    }

    /// Composes `count` runs of the Gaussian mechanism (no subsampling): alpha / (2 sigma^2).
    pub fn compose_gaussian(&mut self, sigma: NoiseMultiplier, count: u64) {
        self.compose_poisson_subsampled_gaussian(SamplingRate(1.0), sigma, count);
    }

    /// Composes a mechanism that is rho-zCDP: RDP rho * alpha at every order.
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for a negative or non-finite rho.
    pub fn compose_zcdp(&mut self, rho: f64) -> Result<(), DpError> {
        if !(rho.is_finite() && rho >= 0.0) {
            return Err(DpError::InvalidParameter(format!(
                "rho must be finite and >= 0, got {rho}"
            )));
        }
        for (r, a) in self.rdp.iter_mut().zip(&self.orders) {
            *r += rho * a;
        }
        Ok(())
    }

    /// The smallest epsilon over the orders for this delta, and the order that gives it.
    ///
    /// # Errors
    /// [`DpError::Unbounded`] when every order gives an infinite epsilon.
    pub fn epsilon(&self, delta: Delta) -> Result<(f64, f64), DpError> {
        epsilon_from_rdp(&self.orders, &self.rdp, delta.get())
    }
}

/// Balle et al. 2020 conversion, as dp_accounting's `compute_epsilon`.
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> Result<(f64, f64), DpError> {
    let mut best = (f64::INFINITY, f64::NAN);
    for (&a, &r) in orders.iter().zip(rdp) {
        let eps = if delta * delta + (-r).exp_m1() > 0.0 {
            // delta <= sqrt(1 - exp(-KL)) already gives epsilon = 0.
            0.0
        } else if a > 1.01 {
            r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
        } else {
            f64::INFINITY
        };
        if eps < best.0 {
            best = (eps, a);
        }
    }
    if best.0.is_finite() {
        Ok((best.0.max(0.0), best.1))
    } else {
        Err(DpError::Unbounded(
            "every order gives an infinite epsilon".into(),
        ))
    }
}

/// RDP of one step of the Poisson-subsampled Gaussian mechanism at order alpha.
pub fn subsampled_gaussian_rdp(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_int(q, sigma, alpha as u64)
    } else {
        log_a_frac(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).exp().ln_1p() + b
}

/// ln erfc(x), accurate also where erfc underflows.
pub(crate) fn log_erfc(x: f64) -> f64 {
    if x < 25.0 {
        return libm::erfc(x).ln();
    }
    // erfc(x) ~ exp(-x^2) / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) ...)
    let inv = 1.0 / (2.0 * x * x);
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..8 {
        term *= -((2 * k - 1) as f64) * inv;
        sum += term;
    }
    -x * x - x.ln() - 0.5 * std::f64::consts::PI.ln() + sum.ln()
}

fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    let a = alpha as f64;
    let inv_2s2 = 1.0 / (2.0 * sigma * sigma);
    let mut log_a = f64::NEG_INFINITY;
    // ln binom(alpha, i) by the recurrence binom(a, i+1) = binom(a, i) (a - i) / (i + 1)
    let mut lb = 0.0;
    for i in 0..=alpha {
        let fi = i as f64;
        let s = lb + fi * ln_q + (a - fi) * ln_1mq + (fi * fi - fi) * inv_2s2;
        log_a = log_add(log_a, s);
        lb += ((a - fi) / (fi + 1.0)).ln();
    }
    log_a
}

/// ln A_alpha for fractional alpha (Mironov, Talwar, Zhang 2019, sec. 3.3). The terms of
/// the two series are added in absolute value, which bounds A_alpha from above (sound),
/// as dp_accounting 0.6 does; the sum stops when both terms decrease and fall e^30 below
/// the total, or after 1000 terms (then the order is dropped: infinite RDP).
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let log1mq = (-q).ln_1p();
    let sqrt2 = std::f64::consts::SQRT_2;
    let (mut last0, mut last1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    // ln |binom(alpha, i)| by the recurrence |binom(a, i+1)| = |binom(a, i)| |a - i| / (i + 1)
    let mut log_coef = 0.0;
    for i in 0..1000u64 {
        let fi = i as f64;
        let j = alpha - fi;
        let log_t0 = log_coef + fi * q.ln() + j * log1mq;
        let log_t1 = log_coef + j * q.ln() + fi * log1mq;
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / (sqrt2 * sigma));
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / (sqrt2 * sigma));
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        log_a0 = log_add(log_a0, log_s0);
        log_a1 = log_add(log_a1, log_s1);
        let total = log_add(log_a0, log_a1);
        if log_s0 < last0 && log_s1 < last1 && log_s0.max(log_s1) < total - 30.0 {
            return total;
        }
        last0 = log_s0;
        last1 = log_s1;
        log_coef += ((alpha - fi).abs() / (fi + 1.0)).ln();
    }
    f64::INFINITY
}

/// Epsilon of `steps` Poisson-subsampled Gaussian steps, and the optimal order.
///
/// # Errors
/// [`DpError::Unbounded`] when no order gives a finite epsilon.
pub fn dpsgd_epsilon(
    q: SamplingRate,
    sigma: NoiseMultiplier,
    steps: u64,
    delta: Delta,
) -> Result<(f64, f64), DpError> {
    let mut acc = RdpAccountant::new();
    acc.compose_poisson_subsampled_gaussian(q, sigma, steps);
    acc.epsilon(delta)
}
