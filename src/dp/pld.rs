//! Privacy loss distribution (PLD) accountant: tighter epsilons than RDP.
//!
//! Each mechanism's privacy loss distribution is discretized on a grid of width 1e-4 by
//! "connect the dots" (Doroshenko, Ghazi, Kamath, Kumar, Manurangsi 2022, as dp_accounting's
//! `PLDAccountant` does by default): the hockey-stick curve delta(epsilon) is computed exactly
//! at every grid point and interpolated linearly in e^epsilon, which upper-bounds the true
//! convex curve, so the result is pessimistic (sound). Mass above the grid goes to infinity
//! (counted in full in delta); mass below it is moved up to the lowest grid point.
//! Compositions are convolutions done by FFT, with Chernoff bounds choosing a window that
//! holds all but 1e-15 of the mass, which is charged to delta.
//!
//! Both neighbouring relations are tracked (remove: the mixture against the base; add: the
//! reverse), and epsilon is the larger of the two, as for dp_accounting's add-or-remove-one.
//!
//! ```
//! use shroud::dp::pld::PldAccountant;
//! use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};
//! let mut acc = PldAccountant::new();
//! acc.compose_poisson_subsampled_gaussian(
//!     SamplingRate::new(0.01).unwrap(), NoiseMultiplier::new(4.0).unwrap(), 10_000).unwrap();
//! let eps = acc.epsilon(Delta::new(1e-5).unwrap()).unwrap();
//! assert!((eps - 0.9469993068930963).abs() / 0.947 < 1e-3); // dp_accounting 0.6.0
//! ```
//!
//! # Privacy
//! Every approximation (discretization, truncation, FFT window, FFT round-off) errs toward
//! more loss:
//! - discretization by connect-the-dots upper-bounds the hockey-stick curve; probabilities
//!   that float error makes negative are raised to 0 and the lowest point takes at least
//!   the remaining mass, both of which only add mass (more delta);
//! - the FFT window's left-over mass (1e-15 on each side) is charged to delta;
//! - FFT round-off is bounded and charged to delta. With kappa(n) = 20 u (log2 n + 2) the
//!   error factor of one length-n FFT (Higham 2002, section 24.1: each of the log2 n
//!   butterfly stages errs by at most about 6.7 u; we take a margin of 3, and two stages
//!   more for realfft's pre- and post-processing), each bin of the forward transform of a
//!   pmf x errs by at most e1 = kappa |x|_1 and the inverse transform by kappa |Y|_2 in
//!   2-norm. A T-fold self-composition then errs in L1 by at most
//!   sqrt(sum_j (T e1 (|X_j| + e1)^(T-1))^2) + (kappa + 8 u (log2 T + 1)) |Y|_2, with X the
//!   computed spectrum and Y its T-th power; two different PLDs compose with the analogous
//!   bound. Each bound is
//!   added to the mass at infinity, so delta(epsilon) only grows; negative outputs of the
//!   inverse FFT (round-off of bins whose true mass is >= 0) are clipped to 0, which adds
//!   at most that same bound to the finite mass. [`Pld::roundoff`] reports the total. For
//!   dp_accounting's DP-SGD vectors the charge is about 1e-9 or less, far below delta.
//!
//! Not separately bounded: the float error of the closed-form curves at each grid point
//! (about 1e-16 absolute, and the curves' own 1e-13 relative margins where they have them).

use rayon::prelude::*;
use realfft::RealFftPlanner;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;

use super::{Delta, DpError, NoiseMultiplier, SamplingRate};

/// dp_accounting's default `value_discretization_interval`.
pub const DEFAULT_INTERVAL: f64 = 1e-4;
const TAIL: f64 = 1e-15;
/// Most grid points one mechanism may need (realistic DP-SGD settings need about 35 000);
/// beyond it the parameters are refused instead of allocating gigabytes.
const MAX_GRID_POINTS: i64 = 4_000_000;

/// A discretized privacy loss distribution: mass `pmf[k]` at loss (offset + k) * interval,
/// plus `inf` at infinity.
#[derive(Clone, Debug)]
pub struct Pld {
    interval: f64,
    offset: i64,
    pmf: Vec<f64>,
    inf: f64,
    roundoff: f64,
}

/// Relative 2-norm error bound of one f64 FFT of length n: Higham (2002, "Accuracy and
/// Stability of Numerical Algorithms", theorem 24.2) gives log2(n) eta with eta about 6.7 u
/// for radix-2 Cooley-Tukey with accurate twiddles (u = 2^-53); we take 20 u per stage, and
/// two extra stages for realfft's pre- and post-processing.
fn fft_rel_err(n: usize) -> f64 {
    10.0 * f64::EPSILON * ((n as f64).log2() + 2.0)
}

/// Norm of a full spectrum given its real-FFT half (bins 0..=n/2; the others are conjugates).
fn half_spectrum_norm(spec: &[Complex64]) -> f64 {
    let last = spec.len() - 1;
    let s: f64 = spec
        .iter()
        .enumerate()
        .map(|(j, z)| {
            let w = if j == 0 || j == last { 1.0 } else { 2.0 };
            w * z.norm_sqr()
        })
        .sum();
    (s * (1.0 + 4.0 * f64::EPSILON)).sqrt()
}

/// Upper tail of the standard normal, accurate far into the tail.
pub(crate) fn q_norm(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// ln of the upper normal tail, finite where the tail itself underflows.
fn ln_q_norm(x: f64) -> f64 {
    0.5f64.ln() + super::rdp::log_erfc(x / std::f64::consts::SQRT_2)
}

/// e^eps * Q(z), computed in log space so that neither factor overflows or underflows (the
/// one log-space helper of the DP layer: the Gaussian privacy curve uses it too).
pub(crate) fn exp_times_tail(eps: f64, z: f64) -> f64 {
    let t = q_norm(z);
    if eps < 700.0 && t > 1e-290 {
        eps.exp() * t // both factors are normal doubles: the plain product is exact enough
    } else {
        (eps + ln_q_norm(z)).exp()
    }
}

impl Pld {
    /// Connect-the-dots discretization of a mechanism given its hockey-stick curve, on grid
    /// indices lo..=hi (delta(hi) goes to infinity; the lowest point takes what is left).
    fn from_delta_curve(
        delta: &(dyn Fn(f64) -> f64 + Sync),
        lo: i64,
        hi: i64,
        interval: f64,
    ) -> Result<Pld, DpError> {
        if hi <= lo || hi - lo > MAX_GRID_POINTS {
            return Err(DpError::InvalidParameter(
                "privacy loss range too wide to discretize".into(),
            ));
        }
        let n = (hi - lo + 1) as usize;
        let eps: Vec<f64> = (0..n).map(|k| (lo + k as i64) as f64 * interval).collect();
        let d: Vec<f64> = eps.par_iter().map(|e| delta(*e)).collect();
        if d.iter().any(|x| !x.is_finite()) {
            return Err(DpError::InvalidParameter(
                "the privacy loss curve is not computable for these parameters".into(),
            ));
        }
        let d: Vec<f64> = d.into_iter().map(|x| x.clamp(0.0, 1.0)).collect();
        // slopes in x = e^eps between consecutive points; 0 to the right of the last point
        let mut slope = vec![0.0; n];
        for k in 0..n - 1 {
            let dx = eps[k].exp() * interval.exp_m1();
            slope[k] = (d[k + 1] - d[k]) / dx;
        }
        let inf = d[n - 1];
        let mut pmf = vec![0.0; n];
        let mut total = 0.0;
        for k in (1..n).rev() {
            let p = (eps[k].exp() * (slope[k] - slope[k - 1])).max(0.0);
            pmf[k] = p;
            total += p;
        }
        pmf[0] = (1.0 - inf - total).max(0.0);
        Ok(Pld {
            interval,
            offset: lo,
            pmf,
            inf,
            roundoff: 0.0,
        })
    }

    /// Gaussian mechanism, sensitivity 1, standard deviation sigma (symmetric).
    pub fn gaussian(sigma: f64, interval: f64) -> Result<Pld, DpError> {
        let mu = 1.0 / (2.0 * sigma * sigma);
        let sd = 1.0 / sigma;
        let delta = move |e: f64| q_norm((e - mu) / sd) - exp_times_tail(e, (e + mu) / sd);
        let lo = ((mu - 40.0 * sd) / interval).floor() as i64;
        let hi = ((mu + 40.0 * sd) / interval).ceil() as i64;
        Self::from_delta_curve(&delta, lo, hi, interval)
    }

    /// Laplace mechanism, sensitivity 1, scale b (symmetric).
    pub fn laplace(b: f64, interval: f64) -> Result<Pld, DpError> {
        let e0 = 1.0 / b;
        let delta = move |e: f64| {
            if e >= e0 {
                0.0
            } else if e >= -e0 {
                -((e - e0) / 2.0).exp_m1()
            } else {
                -e.exp_m1()
            }
        };
        let lo = (-e0 / interval).floor() as i64 - 1;
        let hi = (e0 / interval).ceil() as i64 + 1;
        Self::from_delta_curve(&delta, lo, hi, interval)
    }

    /// Poisson-subsampled Gaussian, remove relation: P = (1-q) N(0, s^2) + q N(1, s^2)
    /// against Q = N(0, s^2).
    pub fn subsampled_gaussian_remove(q: f64, sigma: f64, interval: f64) -> Result<Pld, DpError> {
        let s2 = sigma * sigma;
        let delta = move |e: f64| {
            if e <= (-q).ln_1p() {
                return -e.exp_m1();
            }
            // P/Q > e^eps  <=>  x > x*, with ln((e^eps - (1-q)) / q) taken in log space
            let l = e + (-(1.0 - q) * (-e).exp()).ln_1p() - q.ln();
            let x = s2 * l + 0.5;
            let p_tail = (1.0 - q) * q_norm(x / sigma) + q * q_norm((x - 1.0) / sigma);
            (p_tail - exp_times_tail(e, x / sigma)).max(0.0)
        };
        let lo = ((-q).ln_1p() / interval).floor() as i64 - 1;
        let mut e_hi = 1e-3f64;
        while delta(e_hi) > 1e-18 && e_hi < 1e4 {
            e_hi *= 1.5;
        }
        let hi = (e_hi / interval).ceil() as i64;
        Self::from_delta_curve(&delta, lo, hi, interval)
    }

    /// Poisson-subsampled Gaussian, add relation: Q against P (the reverse of the above).
    pub fn subsampled_gaussian_add(q: f64, sigma: f64, interval: f64) -> Result<Pld, DpError> {
        let s2 = sigma * sigma;
        let delta = move |e: f64| {
            if -e <= (-q).ln_1p() {
                return 0.0;
            }
            // Q/P > e^eps  <=>  x < x**, with ln((e^-eps - (1-q)) / q) in log space
            let l = -e + (-(1.0 - q) * e.exp()).ln_1p() - q.ln();
            let x = s2 * l + 0.5;
            let a = e.exp();
            if e < -1.0 {
                // complement form: 1 - Q(x > x**) - e^eps (1 - P(x > x**))
                let q_above = q_norm(x / sigma);
                let p_above = (1.0 - q) * q_norm(x / sigma) + q * q_norm((x - 1.0) / sigma);
                return (1.0 - q_above - a * (1.0 - p_above)).max(0.0);
            }
            let q_below = 1.0 - q_norm(x / sigma);
            let p_below =
                (1.0 - q) * (1.0 - q_norm(x / sigma)) + q * (1.0 - q_norm((x - 1.0) / sigma));
            (q_below - a * p_below).max(0.0)
        };
        let hi = (-(-q).ln_1p() / interval).ceil() as i64 + 1;
        // lowest loss worth a grid point: P_Q(loss <= e) < 1e-18
        let below = |e: f64| {
            let t = (-e).exp() - (1.0 - q);
            if t <= 0.0 {
                return 1.0;
            }
            q_norm((s2 * (t / q).ln() + 0.5) / sigma)
        };
        let mut e_lo = -1e-3f64;
        while below(e_lo) > 1e-18 && e_lo > -1e4 {
            e_lo *= 1.5;
        }
        let lo = (e_lo / interval).floor() as i64;
        Self::from_delta_curve(&delta, lo, hi, interval)
    }

    /// The FFT round-off charged to delta (added to the mass at infinity) by the
    /// compositions that built this PLD: a bound on the L1 error of the computed pmf.
    pub fn roundoff(&self) -> f64 {
        self.roundoff
    }

    /// Number of grid points with finite mass.
    pub fn len(&self) -> usize {
        self.pmf.len()
    }

    /// True when there is no finite mass.
    pub fn is_empty(&self) -> bool {
        self.pmf.is_empty()
    }

    /// The smallest epsilon whose delta does not exceed `delta`.
    pub fn epsilon_for_delta(&self, delta: f64) -> f64 {
        if self.inf > delta {
            return f64::INFINITY;
        }
        // Walk down from the top. For eps in [(s-1), s) * interval the sums run over the
        // grid points >= s: a = their mass, b = sum of p e^((s-1) interval - loss), kept
        // relative to the interval's left end so no exponential overflows (losses can be
        // far above 709). delta(eps) = inf + a - e^(eps - left) b.
        let (mut a, mut b) = (0.0f64, 0.0f64);
        let step = (-self.interval).exp();
        for idx in (0..self.pmf.len()).rev() {
            let s = self.offset + idx as i64;
            if s <= 0 {
                break;
            }
            let p = self.pmf[idx];
            a += p;
            b = b * step + p * step; // re-anchor at (s-1) interval, then add p e^(-interval)
            let e_lo = (s - 1) as f64 * self.interval;
            let d_lo = self.inf + a - b;
            if d_lo > delta {
                let e = e_lo + ((self.inf + a - delta) / b).ln();
                return e.max(e_lo);
            }
        }
        0.0
    }

    /// delta at a given epsilon.
    pub fn delta_for_epsilon(&self, eps: f64) -> f64 {
        let mut d = self.inf;
        for (idx, p) in self.pmf.iter().enumerate() {
            let v = (self.offset + idx as i64) as f64 * self.interval;
            if v > eps {
                d += p * -(eps - v).exp_m1();
            }
        }
        d.min(1.0)
    }

    /// The `times`-fold composition, by FFT with a Chernoff-bounded window.
    pub fn self_compose(&self, times: u64) -> Result<Pld, DpError> {
        if times == 0 {
            return Ok(Pld {
                interval: self.interval,
                offset: 0,
                pmf: vec![1.0],
                inf: 0.0,
                roundoff: 0.0,
            });
        }
        if times == 1 {
            return Ok(self.clone());
        }
        let t = times as f64;
        let len = self.pmf.len() as i64;
        let (min_s, max_s) = (self.offset, self.offset + len - 1);
        // log MGF of the finite part, in index units: sum p_k e^(theta s_k), computed with
        // one multiplication per term (e^(theta (s+1)) = e^(theta s) e^theta), shifted so
        // every exponent is <= 0.
        let mass: f64 = self.pmf.iter().sum();
        let log_mgf = |theta: f64| -> f64 {
            // theta > 0: shift by the largest index; theta < 0: by the smallest.
            let (anchor, step) = if theta > 0.0 {
                (max_s, (-theta).exp())
            } else {
                (min_s, theta.exp())
            };
            let mut acc = 0.0;
            if theta > 0.0 {
                let mut w = 1.0;
                for p in self.pmf.iter().rev() {
                    acc += p * w;
                    w *= step;
                    if w < 1e-300 {
                        break; // the rest is negligible (and subnormals are slow)
                    }
                }
            } else {
                let mut w = 1.0;
                for p in &self.pmf {
                    acc += p * w;
                    w *= step;
                    if w < 1e-300 {
                        break;
                    }
                }
            }
            (acc / mass).ln() + theta * anchor as f64
        };
        let ln_tail = TAIL.ln();
        let mut upper = t * max_s as f64;
        let mut lower = t * min_s as f64;
        for i in -30..=6 {
            let theta = 2f64.powi(i);
            let u = (t * log_mgf(theta) - ln_tail) / theta;
            if u.is_finite() {
                upper = upper.min(u);
            }
            let l = (t * log_mgf(-theta) - ln_tail) / -theta;
            if l.is_finite() {
                lower = lower.max(l);
            }
        }
        let upper = upper.ceil() as i64;
        let lower = lower.floor() as i64;
        let width = (upper - lower + 1).max(len) as usize;
        if width > 1 << 27 {
            return Err(DpError::InvalidParameter(
                "composition too wide for the FFT window".into(),
            ));
        }
        let n = width.next_power_of_two().max(2);
        let power = u32::try_from(times)
            .map_err(|_| DpError::InvalidParameter("too many compositions".into()))?;
        // Plans (twiddle tables) are cached per thread: planning costs as much as the FFT.
        thread_local! {
            static PLANNER: std::cell::RefCell<RealFftPlanner<f64>> = std::cell::RefCell::new(RealFftPlanner::new());
        }
        let (fwd, inv) = PLANNER.with(|p| {
            let mut p = p.borrow_mut();
            (p.plan_fft_forward(n), p.plan_fft_inverse(n))
        });
        let mut real = fwd.make_input_vec();
        real[..self.pmf.len()].copy_from_slice(&self.pmf);
        let mut spec = fwd.make_output_vec();
        fwd.process(&mut real, &mut spec)
            .map_err(|e| DpError::InvalidParameter(format!("FFT: {e}")))?;
        // Round-off bound, charged to delta (see the module docs). Forward: every bin errs
        // by at most e1 = kappa |x|_1 (componentwise bound); power: |a^T - b^T| <=
        // T |a - b| max(|a|, |b|)^(T-1) bin by bin, plus the rounding of powu (2 log2 T + 2
        // complex products); inverse: kappa |Y|_2. The L1 error of the output pmf is at
        // most the 2-norm error of its spectrum (a factor 1/n and sqrt(n) twice).
        let kappa = fft_rel_err(n);
        let e1 = kappa * self.pmf.iter().sum::<f64>() * (1.0 + 4.0 * f64::EPSILON);
        let last = spec.len() - 1;
        let mut power_err2 = 0.0;
        for (j, z) in spec.iter_mut().enumerate() {
            let w = if j == 0 || j == last { 1.0 } else { 2.0 };
            let m = z.norm() * (1.0 + 4.0 * f64::EPSILON) + e1;
            let dj = t * e1 * m.powf(t - 1.0);
            power_err2 += w * dj * dj;
            *z = z.powu(power);
        }
        let y_norm = half_spectrum_norm(&spec);
        let pow_rounding = (2.0 * t.log2() + 2.0) * 4.0 * f64::EPSILON;
        let roundoff = (power_err2.sqrt() + (pow_rounding + kappa) * y_norm) * (1.0 + 1e-6)
            + 4.0 * f64::EPSILON;
        // the inverse needs purely real first and last bins (they are, up to rounding)
        spec[0].im = 0.0;
        if let Some(last) = spec.last_mut() {
            last.im = 0.0;
        }
        inv.process(&mut spec, &mut real)
            .map_err(|e| DpError::InvalidParameter(format!("FFT: {e}")))?;
        let buf: Vec<Complex64> = real.iter().map(|x| Complex64::new(*x, 0.0)).collect();
        let base = times as i64 * self.offset;
        let n_i = n as i64;
        let mut pmf = vec![0.0; n];
        for (j, z) in buf.iter().enumerate() {
            // s = j + base (mod n), chosen in [lower, lower + n)
            let s = lower + (j as i64 + base - lower).rem_euclid(n_i);
            pmf[(s - lower) as usize] += (z.re / n as f64).max(0.0);
        }
        let inf = 1.0 - (1.0 - self.inf).powf(t) + 2.0 * TAIL + roundoff;
        if !inf.is_finite() {
            return Err(DpError::Unsupported(
                "the FFT round-off bound of this composition is not finite".into(),
            ));
        }
        let mut out = Pld {
            interval: self.interval,
            offset: lower,
            pmf,
            inf: inf.min(1.0),
            roundoff: t * self.roundoff + roundoff,
        };
        out.trim();
        Ok(out)
    }

    /// Composition with another PLD on the same grid (linear convolution by FFT).
    pub fn compose(&self, other: &Pld) -> Result<Pld, DpError> {
        if (self.interval - other.interval).abs() > 0.0 {
            return Err(DpError::InvalidParameter("PLDs on different grids".into()));
        }
        let len = self.pmf.len() + other.pmf.len() - 1;
        let n = len.next_power_of_two();
        let mut a: Vec<Complex64> = vec![Complex64::new(0.0, 0.0); n];
        let mut b = a.clone();
        for (k, p) in self.pmf.iter().enumerate() {
            a[k].re = *p;
        }
        for (k, p) in other.pmf.iter().enumerate() {
            b[k].re = *p;
        }
        let mut planner = FftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        fwd.process(&mut a);
        fwd.process(&mut b);
        // Round-off bound, charged to delta: |A'B' - AB| <= |A' - A| |B'| + |A| |B' - B| bin
        // by bin, each forward error at most kappa |x|_1 as in `self_compose`, plus the
        // products' rounding and the inverse FFT's kappa |Y|_2.
        let kappa = fft_rel_err(n);
        let ea = kappa * self.pmf.iter().sum::<f64>() * (1.0 + 4.0 * f64::EPSILON);
        let eb = kappa * other.pmf.iter().sum::<f64>() * (1.0 + 4.0 * f64::EPSILON);
        let mut prod_err2 = 0.0;
        for (x, y) in a.iter_mut().zip(&b) {
            let (ma, mb) = (
                x.norm() * (1.0 + 4.0 * f64::EPSILON),
                y.norm() * (1.0 + 4.0 * f64::EPSILON),
            );
            let dj = ea * mb + (ma + ea) * eb;
            prod_err2 += dj * dj;
            *x *= y;
        }
        let y_norm =
            (a.iter().map(|z| z.norm_sqr()).sum::<f64>() * (1.0 + 4.0 * f64::EPSILON)).sqrt();
        let roundoff = (prod_err2.sqrt() + (4.0 * f64::EPSILON + kappa) * y_norm) * (1.0 + 1e-6)
            + 4.0 * f64::EPSILON;
        planner.plan_fft_inverse(n).process(&mut a);
        let pmf: Vec<f64> = a[..len]
            .iter()
            .map(|z| (z.re / n as f64).max(0.0))
            .collect();
        let inf = (1.0 - (1.0 - self.inf) * (1.0 - other.inf) + roundoff).min(1.0);
        let mut out = Pld {
            interval: self.interval,
            offset: self.offset + other.offset,
            pmf,
            inf,
            roundoff: self.roundoff + other.roundoff + roundoff,
        };
        out.trim();
        Ok(out)
    }

    /// Drops negligible ends: upper mass to infinity, lower mass up to the first kept bin.
    fn trim(&mut self) {
        let mut hi = self.pmf.len();
        let mut acc = 0.0;
        while hi > 1 && acc + self.pmf[hi - 1] < TAIL {
            acc += self.pmf[hi - 1];
            hi -= 1;
        }
        self.inf = (self.inf + acc).min(1.0);
        let mut lo = 0;
        let mut low = 0.0;
        while lo + 1 < hi && low + self.pmf[lo] < TAIL {
            low += self.pmf[lo];
            lo += 1;
        }
        let mut pmf = self.pmf[lo..hi].to_vec();
        pmf[0] += low;
        self.offset += lo as i64;
        self.pmf = pmf;
    }
}

/// A PLD accountant for the add-or-remove-one relation.
#[derive(Clone, Debug)]
pub struct PldAccountant {
    interval: f64,
    remove: Option<Pld>,
    add: Option<Pld>,
}

impl Default for PldAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl PldAccountant {
    /// With dp_accounting's default grid (1e-4).
    pub fn new() -> Self {
        PldAccountant {
            interval: DEFAULT_INTERVAL,
            remove: None,
            add: None,
        }
    }

    fn push(&mut self, remove: Pld, add: Pld) -> Result<(), DpError> {
        self.remove = Some(match &self.remove {
            None => remove,
            Some(r) => r.compose(&remove)?,
        });
        self.add = Some(match &self.add {
            None => add,
            Some(a) => a.compose(&add)?,
        });
        Ok(())
    }

    /// Composes `steps` Poisson-subsampled Gaussian steps.
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] when the distribution is too wide to discretize.
    pub fn compose_poisson_subsampled_gaussian(
        &mut self,
        q: SamplingRate,
        sigma: NoiseMultiplier,
        steps: u64,
    ) -> Result<(), DpError> {
        if steps == 0 || q.get() == 0.0 {
            return Ok(());
        }
        if q.get() == 1.0 {
            return self.compose_gaussian(sigma, steps);
        }
        let r = Pld::subsampled_gaussian_remove(q.get(), sigma.get(), self.interval)?
            .self_compose(steps)?;
        let a = Pld::subsampled_gaussian_add(q.get(), sigma.get(), self.interval)?
            .self_compose(steps)?;
        self.push(r, a)
    }

    /// Composes `count` Gaussian mechanisms (sensitivity 1).
    ///
    /// # Errors
    /// As [`PldAccountant::compose_poisson_subsampled_gaussian`].
    pub fn compose_gaussian(&mut self, sigma: NoiseMultiplier, count: u64) -> Result<(), DpError> {
        let g = Pld::gaussian(sigma.get(), self.interval)?.self_compose(count)?;
        self.push(g.clone(), g)
    }

    /// Composes `count` Laplace mechanisms of scale b (sensitivity 1).
    ///
    /// # Errors
    /// [`DpError::InvalidParameter`] for a non-positive scale.
    pub fn compose_laplace(&mut self, b: f64, count: u64) -> Result<(), DpError> {
        if !(b.is_finite() && b > 0.0) {
            return Err(DpError::InvalidParameter(format!(
                "Laplace scale must be positive, got {b}"
            )));
        }
        let l = Pld::laplace(b, self.interval)?.self_compose(count)?;
        self.push(l.clone(), l)
    }

    /// The smallest epsilon at this delta (the larger over the two relations).
    ///
    /// # Errors
    /// [`DpError::Unbounded`] when the infinite-loss mass alone exceeds delta.
    pub fn epsilon(&self, delta: Delta) -> Result<f64, DpError> {
        let mut eps: f64 = 0.0;
        for p in [&self.remove, &self.add].into_iter().flatten() {
            eps = eps.max(p.epsilon_for_delta(delta.get()));
        }
        if eps.is_finite() {
            Ok(eps)
        } else {
            Err(DpError::Unbounded(
                "the mass at infinite loss exceeds delta".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution: every term is >= 0, so each bin is accurate to a few n u relative.
    fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; a.len() + b.len() - 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                out[i + j] += x * y;
            }
        }
        out
    }

    #[test]
    fn fft_roundoff_is_bounded_and_charged_to_delta() {
        let base = Pld::laplace(1.0, 1e-2).unwrap();
        let t = 40u64;
        let fft = base.self_compose(t).unwrap();
        let mut direct = vec![1.0];
        for _ in 0..t {
            direct = convolve(&direct, &base.pmf);
        }
        let direct_offset = t as i64 * base.offset;
        // bins strictly inside the FFT window (its ends hold trimmed mass)
        let mut l1 = 0.0;
        for (k, p) in fft.pmf.iter().enumerate().skip(1).take(fft.pmf.len() - 2) {
            let j = (fft.offset + k as i64 - direct_offset) as usize;
            l1 += (p - direct[j]).abs();
        }
        let charged = fft.roundoff();
        assert!(charged > 0.0 && charged < 1e-11, "charged {charged:e}");
        assert!(
            l1 <= charged,
            "measured round-off {l1:e} above the bound {charged:e}"
        );
        // delta never below the direct computation's
        let exact = Pld {
            interval: base.interval,
            offset: direct_offset,
            pmf: direct,
            inf: 1.0 - (1.0 - base.inf).powf(t as f64),
            roundoff: 0.0,
        };
        for i in 0..200 {
            let eps = f64::from(i) * 0.2;
            let (a, b) = (fft.delta_for_epsilon(eps), exact.delta_for_epsilon(eps));
            assert!(a >= b * (1.0 - 1e-12), "epsilon {eps}: {a:e} < {b:e}");
        }
        // two different PLDs: the bound is charged too
        let g = Pld::gaussian(2.0, 1e-2).unwrap();
        let both = base.compose(&g).unwrap();
        eprintln!(
            "self-composition: measured {l1:e}, charged {charged:e}; compose: charged {:e}",
            both.roundoff()
        );
        assert!(both.roundoff() > 0.0 && both.roundoff() < 1e-11);
        assert!(both.inf >= both.roundoff());
    }
}
