//! `shroud report privacy-utility` end to end on a small built-in hospital: every plot is
//! written as a valid PNG and SVG, and the summary parses and holds the sweep.

#![cfg(feature = "plots")]

use std::process::Command;

use serde_json::Value;

#[test]
fn privacy_utility_report_writes_png_svg_and_summary() {
    let d = std::env::temp_dir().join(format!("shroud-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let ds = d.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_shroud");
    let made = Command::new(bin)
        .args(["data", "hospitals", "--patients", "800", "--hospitals", "1"])
        .args(["--seed", "3", "--out", ds])
        .output()
        .unwrap();
    assert!(made.status.success());
    let out_dir = d.join("report");
    let out = Command::new(bin)
        .args(["report", "privacy-utility", "--data"])
        .arg(d.join("hospital_1.csv"))
        .args(["--label", "high_risk", "--out"])
        .arg(&out_dir)
        .args(["--epsilons", "1,8", "--seeds", "2", "--epochs", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stem in ["accuracy_vs_epsilon", "mia_roc", "training_loss"] {
        let png = std::fs::read(out_dir.join(format!("{stem}.png"))).unwrap();
        assert!(png.len() > 1000, "{stem}.png has {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
        let svg = std::fs::read_to_string(out_dir.join(format!("{stem}.svg"))).unwrap();
        let start = svg.find("<svg").expect("an svg root element");
        assert!(svg[..start].trim().is_empty() || svg[..start].trim_start().starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"), "{stem}.svg is cut");
        // the labels are text in the SVG
        assert!(svg.contains("<text"), "{stem}.svg has no text");
    }
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["seeds"], 2);
    assert_eq!(s["points"].as_array().unwrap().len(), 2);
    for p in s["points"].as_array().unwrap() {
        assert_eq!(p["accuracies"].as_array().unwrap().len(), 2);
        assert!(p["epsilon_spent"].as_f64().unwrap() <= p["epsilon"].as_f64().unwrap());
        assert_eq!(p["mia_above_bound"], false);
    }
    let md = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    assert!(md.contains("| epsilon |") && md.contains("not private"));
    std::fs::remove_dir_all(&d).unwrap();
}
