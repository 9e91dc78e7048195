//! Known answers from Google's dp_accounting 0.6.0 (vectors/dp_accounting_public.json):
//! RDP epsilons must match to 1e-6 relative.

use shroud::dp::rdp::{RdpAccountant, default_orders};
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};

fn vectors() -> serde_json::Value {
    let path = format!(
        "{}/vectors/dp_accounting_public.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn default_orders_are_dp_accountings() {
    let o = default_orders();
    assert_eq!(o.len(), 99 + 53 + 4);
    assert_eq!(
        (o[0], o[98], o[99], o[151], o[155]),
        (1.1, 10.9, 11.0, 63.0, 1024.0)
    );
}

#[test]
fn rdp_epsilons_match_dp_accounting() {
    let v = vectors();
    assert!(v["source"].as_str().unwrap().contains("dp_accounting"));
    for c in v["cases"].as_array().unwrap() {
        let mut acc = RdpAccountant::new();
        acc.compose_poisson_subsampled_gaussian(
            SamplingRate::new(c["sampling_rate"].as_f64().unwrap()).unwrap(),
            NoiseMultiplier::new(c["noise_multiplier"].as_f64().unwrap()).unwrap(),
            c["steps"].as_u64().unwrap(),
        );
        let (eps, _) = acc
            .epsilon(Delta::new(c["delta"].as_f64().unwrap()).unwrap())
            .unwrap();
        let want = c["epsilon_rdp"].as_f64().unwrap();
        let rel = (eps - want).abs() / want;
        assert!(
            rel < 1e-6,
            "{}: {eps} vs dp_accounting {want} (rel {rel:e})",
            c["name"]
        );
    }
}
