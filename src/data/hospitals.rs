//! Synthetic hospital patients, the built-in data of `shroud demo` and the tests.
//!
//! Each patient is drawn by the reference notebook's formulas (N(m, s) is a normal draw):
//! - age ~ N(55, 15) clipped to [20, 90];
//! - cholesterol = 150 + 2 age + N(0, 30), clipped to [120, 350];
//! - systolic BP = 90 + 0.8 age + 0.1 cholesterol + N(0, 15), clipped to [90, 200];
//! - heart rate = 85 - 0.2 age + N(0, 10), clipped to [50, 120];
//! - exercise hours = max(0, 8 - 0.05 age + N(0, 3));
//! - BMI = 22 + 0.1 age - 0.3 exercise + N(0, 4), clipped to [16, 45];
//! - risk = 0.03 age + 0.01 chol + 0.02 BP - 0.05 exercise + 0.1 BMI + N(0, 2);
//! - label `high_risk` = 1 when risk is above the 70th percentile (nearest rank) of the
//!   training patients' risks, else 0.
//!
//! The training patients are sorted by age and cut into `hospitals` contiguous slices, so
//! the hospitals are non-IID: the first is the youngest and most active, the middle ones
//! middle-aged, the last the oldest and most hypertensive. The holdout (at least 2000
//! patients) is a separate draw from the same population, disjoint from the training
//! patients, and labelled with the training threshold (the same rule).
//!
//! The draws are reproducible from the seed (ChaCha20, Box-Muller normals). This is
//! synthetic data, not a privacy mechanism: float randomness is fine here.

use rand_core::Rng;

use super::{DataError, Dataset};

/// Feature names, in column order.
pub const FEATURES: [&str; 6] = [
    "age",
    "cholesterol",
    "systolic_bp",
    "heart_rate",
    "exercise_hours",
    "bmi",
];
/// The label column.
pub const LABEL: &str = "high_risk";
/// Smallest holdout.
pub const MIN_HOLDOUT: usize = 2000;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HospitalConfig {
    patients: usize,
    hospitals: usize,
    holdout: usize,
    seed: u64,
}

impl HospitalConfig {
    /// `patients` training patients split over `hospitals` hospitals, a holdout of
    /// [`MIN_HOLDOUT`].
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] unless 1 <= hospitals, every hospital gets at least
    /// 10 patients, and patients <= 10^8.
    pub fn new(patients: usize, hospitals: usize, seed: u64) -> Result<Self, DataError> {
        if hospitals == 0 || patients < 10 * hospitals || patients > 100_000_000 {
            return Err(DataError::InvalidParameter(format!(
                "need at least 10 patients per hospital and at most 10^8 patients \
                 ({patients} patients, {hospitals} hospitals)"
            )));
        }
        Ok(HospitalConfig {
            patients,
            hospitals,
            holdout: MIN_HOLDOUT,
            seed,
        })
    }

    /// A larger holdout.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] below [`MIN_HOLDOUT`] or above 10^8.
    pub fn with_holdout(mut self, holdout: usize) -> Result<Self, DataError> {
        if !(MIN_HOLDOUT..=100_000_000).contains(&holdout) {
            return Err(DataError::InvalidParameter(format!(
                "the holdout needs {MIN_HOLDOUT} to 10^8 patients, got {holdout}"
            )));
        }
        self.holdout = holdout;
        Ok(self)
    }
}

/// The generated hospitals and holdout.
#[derive(Clone, Debug)]
pub struct Hospitals {
    /// One data set per hospital, youngest first.
    pub hospitals: Vec<Dataset>,
    /// The holdout, drawn from the whole population.
    pub holdout: Dataset,
    /// The risk threshold that defines the label.
    pub threshold: f64,
}

struct Normal<R> {
    rng: R,
    spare: Option<f64>,
}

impl<R: Rng> Normal<R> {
    fn unit(&mut self) -> f64 {
        // 53 random bits, shifted off 0 so that ln is finite
        ((self.rng.next_u64() >> 11) as f64 + 0.5) * 2f64.powi(-53)
    }
    fn draw(&mut self, mean: f64, sd: f64) -> f64 {
        let z = if let Some(z) = self.spare.take() {
            z
        } else {
            let (u, v) = (self.unit(), self.unit());
            let r = (-2.0 * u.ln()).sqrt();
            let t = std::f64::consts::TAU * v;
            self.spare = Some(r * t.sin());
            r * t.cos()
        };
        mean + sd * z
    }
}

fn patient<R: Rng>(n: &mut Normal<R>) -> ([f64; 6], f64) {
    let age = n.draw(55.0, 15.0).clamp(20.0, 90.0);
    let chol = (150.0 + 2.0 * age + n.draw(0.0, 30.0)).clamp(120.0, 350.0);
    let bp = (90.0 + 0.8 * age + 0.1 * chol + n.draw(0.0, 15.0)).clamp(90.0, 200.0);
    let hr = (85.0 - 0.2 * age + n.draw(0.0, 10.0)).clamp(50.0, 120.0);
    let ex = (8.0 - 0.05 * age + n.draw(0.0, 3.0)).max(0.0);
    let bmi = (22.0 + 0.1 * age - 0.3 * ex + n.draw(0.0, 4.0)).clamp(16.0, 45.0);
    let risk = 0.03 * age + 0.01 * chol + 0.02 * bp - 0.05 * ex + 0.1 * bmi + n.draw(0.0, 2.0);
    ([age, chol, bp, hr, ex, bmi], risk)
}

fn draw(seed: u64, stream: u64, count: usize) -> Vec<([f64; 6], f64)> {
    use rand_core::SeedableRng;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&stream.to_le_bytes());
    key[16..].copy_from_slice(b"shroud-hospitals");
    let mut n = Normal {
        rng: chacha20::ChaCha20Rng::from_seed(key),
        spare: None,
    };
    (0..count).map(|_| patient(&mut n)).collect()
}

fn dataset(rows: &[([f64; 6], f64)], threshold: f64) -> Dataset {
    let x: Vec<f64> = rows.iter().flat_map(|(f, _)| *f).collect();
    let y = rows
        .iter()
        .map(|(_, r)| usize::from(*r > threshold))
        .collect();
    let names = FEATURES.iter().map(|s| (*s).to_owned()).collect();
    // classes are 0 and 1 even in a slice that holds one of them only
    Dataset::from_parts(names, LABEL, x, y, vec![0.0, 1.0])
}

/// Generates the hospitals and the holdout.
pub fn generate(cfg: &HospitalConfig) -> Hospitals {
    let mut train = draw(cfg.seed, 0, cfg.patients);
    let holdout = draw(cfg.seed, 1, cfg.holdout);
    let mut risks: Vec<f64> = train.iter().map(|(_, r)| *r).collect();
    risks.sort_by(f64::total_cmp);
    // nearest rank: the smallest value with at least 70 % of the risks at or below it
    let rank = (cfg.patients * 7).div_ceil(10).max(1);
    let threshold = risks[rank - 1];
    train.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
    let k = cfg.hospitals;
    let hospitals = (0..k)
        .map(|h| {
            let (lo, hi) = (h * cfg.patients / k, (h + 1) * cfg.patients / k);
            dataset(&train[lo..hi], threshold)
        })
        .collect();
    Hospitals {
        hospitals,
        holdout: dataset(&holdout, threshold),
        threshold,
    }
}

impl Hospitals {
    /// Writes `hospital_1.csv` .. `hospital_K.csv` and `holdout.csv` into `dir` (created if
    /// missing); returns the paths written.
    ///
    /// # Errors
    /// [`DataError::Io`] when a file cannot be written.
    pub fn write_csvs(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, DataError> {
        let io = |p: &std::path::Path, e: std::io::Error| DataError::Io {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut out = Vec::new();
        let files = self
            .hospitals
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("hospital_{}.csv", i + 1), d))
            .chain(std::iter::once(("holdout.csv".to_owned(), &self.holdout)));
        for (name, d) in files {
            let p = dir.join(name);
            std::fs::write(&p, d.to_csv()).map_err(|e| io(&p, e))?;
            out.push(p);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_col(d: &Dataset, c: usize) -> f64 {
        (0..d.len()).map(|i| d.row(i)[c]).sum::<f64>() / d.len() as f64
    }

    fn positive_rate(d: &Dataset) -> f64 {
        d.labels().iter().filter(|&&y| y == 1).count() as f64 / d.len() as f64
    }

    #[test]
    fn reproducible_from_the_seed_and_different_across_seeds() {
        let cfg = HospitalConfig::new(300, 3, 5).unwrap();
        let (a, b) = (generate(&cfg), generate(&cfg));
        assert_eq!(a.hospitals, b.hospitals);
        assert_eq!(a.holdout, b.holdout);
        let c = generate(&HospitalConfig::new(300, 3, 6).unwrap());
        assert_ne!(a.holdout, c.holdout);
    }

    #[test]
    fn formulas_hold_within_their_clips_and_thirty_percent_are_high_risk() {
        let h = generate(&HospitalConfig::new(20_000, 4, 1).unwrap());
        let all: Vec<&Dataset> = h.hospitals.iter().collect();
        let n: usize = all.iter().map(|d| d.len()).sum();
        assert_eq!(n, 20_000);
        let pos: usize = all
            .iter()
            .map(|d| d.labels().iter().filter(|&&y| y == 1).count())
            .sum();
        // nearest-rank 70th percentile: at most 30 % strictly above it
        assert!((5_900..=6_000).contains(&pos), "{pos}");
        for d in &all {
            for i in 0..d.len() {
                let r = d.row(i);
                assert!((20.0..=90.0).contains(&r[0]));
                assert!((120.0..=350.0).contains(&r[1]));
                assert!((90.0..=200.0).contains(&r[2]));
                assert!((50.0..=120.0).contains(&r[3]));
                assert!(r[4] >= 0.0);
                assert!((16.0..=45.0).contains(&r[5]));
            }
        }
        // the holdout is the same population under the same rule: about 30 % positive
        let p = positive_rate(&h.holdout);
        assert!((0.25..0.35).contains(&p), "{p}");
        assert!((mean_col(&h.holdout, 0) - 55.0).abs() < 1.5);
        // cholesterol's slope on age is 2 (clipping bends it little)
        let (ma, mc) = (mean_col(&h.holdout, 0), mean_col(&h.holdout, 1));
        assert!((mc - (150.0 + 2.0 * ma)).abs() < 4.0, "{mc} {ma}");
    }

    #[test]
    fn hospitals_are_non_iid_slices_by_age() {
        let h = generate(&HospitalConfig::new(3000, 3, 2).unwrap());
        let ages: Vec<f64> = h.hospitals.iter().map(|d| mean_col(d, 0)).collect();
        let ex: Vec<f64> = h.hospitals.iter().map(|d| mean_col(d, 4)).collect();
        let bp: Vec<f64> = h.hospitals.iter().map(|d| mean_col(d, 2)).collect();
        assert!(ages[0] < 45.0 && ages[2] > 65.0, "{ages:?}");
        assert!(ex[0] > ex[1] && ex[1] > ex[2], "{ex:?}");
        assert!(bp[0] < bp[1] && bp[1] < bp[2], "{bp:?}");
        assert!(positive_rate(&h.hospitals[0]) < positive_rate(&h.hospitals[2]));
    }

    #[test]
    fn sizes_are_validated() {
        assert!(HospitalConfig::new(29, 3, 0).is_err());
        assert!(HospitalConfig::new(100, 0, 0).is_err());
        let c = HospitalConfig::new(100, 2, 0).unwrap();
        assert!(c.with_holdout(1999).is_err());
        assert_eq!(generate(&c.with_holdout(2500).unwrap()).holdout.len(), 2500);
    }

    #[test]
    fn csvs_round_trip() {
        let dir = std::env::temp_dir().join(format!("shroud-hosp-{}", std::process::id()));
        let h = generate(&HospitalConfig::new(200, 2, 3).unwrap());
        let paths = h.write_csvs(&dir).unwrap();
        assert_eq!(paths.len(), 3);
        let back = Dataset::from_csv_path(&paths[2], LABEL, None).unwrap();
        assert_eq!(back, h.holdout);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
