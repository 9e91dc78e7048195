//! Clipped sums are exact (issue 15, point 2): on the adversarial data sets of Casacuberta et
//! al. (CCS 2022, "Widespread Underestimation of Sensitivity in Differentially Private
//! Libraries") and on generated ones, one record moves the sum by at most the sensitivity
//! charged, against an oracle that rounds each value by itself and sums in i128.

use proptest::prelude::*;
use rand_core::Rng;
use shroud::dp::stats;

/// Casacuberta et al.'s data set for left-to-right f64 sums with values in [-1, 1]: 2^22
/// ones, then 2^22 copies of -2^-31. The tiny values are exact against 2^22 (ulp 2^-31
/// below it) but vanish against 2^22 + 1 (a tie, rounded to even), so one more record 1.0
/// in front moves the f64 sum by 1 + 2^-9.
fn casacuberta() -> Vec<f64> {
    let n = 1usize << 22;
    let mut d = vec![1.0f64; n];
    d.extend(std::iter::repeat_n(-(2f64.powi(-31)), n));
    d
}

fn naive_sum(values: &[f64]) -> f64 {
    values.iter().map(|v| v.clamp(-1.0, 1.0)).sum()
}

#[test]
fn clipped_sum_sensitivity_holds_on_casacuberta_datasets() {
    let d = casacuberta();
    let mut front = vec![1.0];
    front.extend_from_slice(&d);
    let mut back = d.clone();
    back.push(1.0);
    // the attack works on a plain f64 sum: the charged sensitivity was 1 + g, g = 2^-20
    let naive = naive_sum(&front) - naive_sum(&d);
    assert_eq!(naive, 1.0 + 2f64.powi(-9));
    assert!(naive > 1.0 + 2f64.powi(-20));
    for eps in [1.0, 0.1, 10.0] {
        let s = stats::clipped_sum(&d, -1.0, 1.0, eps).unwrap();
        for neighbour in [&front, &back] {
            let t = stats::clipped_sum(neighbour, -1.0, 1.0, eps).unwrap();
            assert_eq!(t.granularity, s.granularity);
            let change = (t.units - s.units).unsigned_abs();
            assert!(
                change <= u128::from(s.sensitivity_units),
                "epsilon {eps}: one record moved the sum by {change} units, charged {}",
                s.sensitivity_units
            );
            // exactly one record's worth: 1.0 on the grid
            assert_eq!(change as f64 * s.granularity, 1.0);
        }
        assert_eq!(s.sensitivity_units as f64 * s.granularity, 1.0);
    }
}

#[test]
fn clipped_sum_is_exact_where_floats_drift() {
    // A second family from the paper: many values that are not multiples of any power of two
    // above 2^-52; the f64 sum depends on the order, the exact one does not.
    let mut rng = shroud::rng::seeded(152);
    let mut d: Vec<f64> = (0..200_000)
        .map(|i| if i % 2 == 0 { 0.1 } else { -0.1 + 1e-17 })
        .collect();
    d.extend(std::iter::repeat_n(0.7, 1000));
    let s = stats::clipped_sum(&d, -1.0, 1.0, 1.0).unwrap();
    let mut shuffled = d.clone();
    for i in (1..shuffled.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        shuffled.swap(i, j);
    }
    assert_eq!(stats::clipped_sum(&shuffled, -1.0, 1.0, 1.0).unwrap(), s);
    // the oracle: each value rounded on the grid by itself, summed in i128
    let g = s.granularity;
    let want: i128 = d
        .iter()
        .map(|v| (v.clamp(-1.0, 1.0) / g).round() as i128)
        .sum();
    assert_eq!(s.units, want);
    assert!(stats::sum(&mut rng, &d, -1.0, 1.0, 1.0).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn one_record_moves_the_clipped_sum_by_at_most_its_sensitivity(
        base in prop::collection::vec(prop_oneof![
            Just(1.0f64), Just(-1.0), Just(2f64.powi(-31)), Just(-(2f64.powi(-31))),
            Just(1e-300), -3.0f64..3.0, Just(0.1), Just(f64::INFINITY)], 0..400),
        repeat in 1usize..2000,
        record in -5.0f64..5.0,
        at in 0usize..10_000,
        (lower, upper) in (-4.0f64..0.0, 0.0f64..4.0),
        log_eps in -2.0f64..2.0,
    ) {
        let eps = 10f64.powf(log_eps);
        let d: Vec<f64> = base.iter().flat_map(|v| std::iter::repeat_n(*v, repeat)).collect();
        let mut e = d.clone();
        e.insert(at % (d.len() + 1), record);
        let s = stats::clipped_sum(&d, lower, upper, eps).unwrap();
        let t = stats::clipped_sum(&e, lower, upper, eps).unwrap();
        let change = (t.units - s.units).unsigned_abs();
        prop_assert!(change <= u128::from(s.sensitivity_units));
        let want = (record.clamp(lower, upper) / s.granularity).round() as i128;
        prop_assert_eq!(t.units - s.units, want);
    }
}
