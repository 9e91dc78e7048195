//! Bad training data: every defect is refused with the line it is on.

use shroud::data::{DataError, Dataset};

fn load(text: &str) -> Result<Dataset, DataError> {
    Dataset::from_csv_str(text, "y", None)
}

#[test]
fn missing_label_column() {
    let e = load("a,b\n1,2\n").unwrap_err();
    assert!(
        matches!(&e, DataError::MissingColumn { name, available } if name == "y" && available == "a,b"),
        "{e:?}"
    );
}

#[test]
fn missing_feature_column() {
    let f = vec!["a".to_owned(), "zz".to_owned()];
    let e = Dataset::from_csv_str("a,y\n1,0\n2,1\n", "y", Some(&f)).unwrap_err();
    assert!(
        matches!(&e, DataError::MissingColumn { name, .. } if name == "zz"),
        "{e:?}"
    );
}

#[test]
fn non_numeric_cell_with_its_line() {
    let e = load("a,y\n1,0\n2,1\nabc,0\n").unwrap_err();
    assert_eq!(
        e,
        DataError::NonNumeric {
            line: 4,
            column: "a".into(),
            value: "abc".into()
        }
    );
    assert!(e.to_string().contains("line 4"));
}

#[test]
fn non_numeric_label_with_its_line() {
    let e = load("a,y\n1,0\n2,yes\n").unwrap_err();
    assert!(matches!(e, DataError::NonNumeric { line: 3, ref column, .. } if column == "y"));
}

#[test]
fn nan_and_infinity_with_their_lines() {
    let e = load("a,y\n1,0\nNaN,1\n").unwrap_err();
    assert!(matches!(e, DataError::NotFinite { line: 3, .. }), "{e:?}");
    let e = load("a,y\n1,0\n2,1\n3,inf\n").unwrap_err();
    assert!(matches!(e, DataError::NotFinite { line: 4, .. }), "{e:?}");
}

#[test]
fn empty_file_and_header_only() {
    assert!(matches!(load("").unwrap_err(), DataError::Empty(_)));
    assert!(matches!(load("a,y\n").unwrap_err(), DataError::Empty(_)));
}

#[test]
fn one_class_only() {
    let e = load("a,y\n1,1\n2,1\n3,1\n").unwrap_err();
    assert!(
        matches!(e, DataError::OneClass { value, .. } if value == 1.0),
        "{e:?}"
    );
}

#[test]
fn ragged_row_with_its_line() {
    let e = load("a,b,y\n1,2,0\n1,1\n").unwrap_err();
    assert_eq!(
        e,
        DataError::RaggedRow {
            line: 3,
            expected: 3,
            found: 2
        }
    );
}

#[test]
fn duplicate_columns() {
    assert!(matches!(
        load("a,a,y\n1,2,0\n").unwrap_err(),
        DataError::DuplicateColumn(_)
    ));
}

#[test]
fn label_cannot_be_a_feature() {
    let f = vec!["y".to_owned()];
    assert!(matches!(
        Dataset::from_csv_str("a,y\n1,0\n2,1\n", "y", Some(&f)).unwrap_err(),
        DataError::InvalidParameter(_)
    ));
}

#[test]
fn feature_selection_orders_columns() {
    let f = vec!["c".to_owned(), "a".to_owned()];
    let d = Dataset::from_csv_str("a,b,c,y\n1,2,3,0\n4,5,6,1\n", "y", Some(&f)).unwrap();
    assert_eq!(d.feature_names(), ["c", "a"]);
    assert_eq!(d.features(), [3.0, 1.0, 6.0, 4.0]);
    assert_eq!(d.labels(), [0, 1]);
}

#[test]
fn missing_file_is_an_io_error() {
    let e =
        Dataset::from_csv_path(std::path::Path::new("/nonexistent/x.csv"), "y", None).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
}

mod budget {
    use shroud::data::hospitals::{HospitalConfig, generate};
    use shroud::data::scaler::Scaler;
    use shroud::dp::budget::Ledger;
    use shroud::dp::calibrate::Accountant;
    use shroud::dp::{Delta, DpError, SamplingRate};
    use shroud::train::TrainError;
    use shroud::train::dpsgd::{ClipNorm, TrainConfig};
    use shroud::train::network::{Architecture, Network};
    use shroud::train::private::{
        Charge, EpsilonTarget, RunOptions, calibrate, train_with_epsilon,
    };

    #[test]
    fn the_ledger_is_charged_once_and_a_short_budget_trains_nothing() {
        let dir = std::env::temp_dir().join(format!("shroud-train-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.json");
        let ledger = Ledger::create(&path).unwrap();
        ledger.add_account("hospitals", "h1", 1.5, 1e-4).unwrap();

        let h = generate(&HospitalConfig::new(400, 1, 3).unwrap());
        let data = Scaler::standardize(&h.hospitals[0])
            .apply(&h.hospitals[0])
            .unwrap();
        let cfg = TrainConfig::new(2, SamplingRate::new(0.05).unwrap(), 0.5);
        let delta = Delta::new(1e-5).unwrap();
        let target = EpsilonTarget::new(1.0, delta, Accountant::Rdp).unwrap();
        let plan = calibrate(&target, &cfg).unwrap();
        assert!(plan.epsilon <= 1.0 && plan.epsilon > 0.9, "{plan:?}");
        let charge = Charge {
            ledger: &ledger,
            dataset: "hospitals",
            principal: "h1",
        };
        let opts = RunOptions {
            validation: None,
            charge: Some(charge),
            progress: None,
        };
        let mut net = Network::new(&Architecture::Logistic, 6, 2, 0).unwrap();
        let clip = ClipNorm::new(1.0).unwrap();
        let mut rng = shroud::rng::seeded(1);
        let report =
            train_with_epsilon(&mut net, &data, &cfg, clip, &target, opts, &mut rng).unwrap();
        let p = report.privacy.unwrap();
        assert_eq!(p.steps, plan.steps);
        assert!(p.epsilon <= 1.0);
        // charged once, the calibrated epsilon (requests round up to 1e-9)
        let (rem_e, rem_d) = Ledger::open(&path)
            .unwrap()
            .remaining("hospitals", "h1")
            .unwrap();
        assert!((rem_e - (1.5 - plan.epsilon)).abs() < 2e-9, "{rem_e}");
        assert!((rem_d - (1e-4 - 1e-5)).abs() < 1e-15);

        // settings that train() would refuse are refused before the charge
        let mut bad_cfg = cfg;
        bad_cfg.optimizer.lr = f64::NAN;
        let e = train_with_epsilon(&mut net, &data, &bad_cfg, clip, &target, opts, &mut rng)
            .unwrap_err();
        assert!(matches!(e, TrainError::InvalidParameter(_)), "{e:?}");
        let wrong = Network::new(&Architecture::Logistic, 5, 2, 0);
        let e = train_with_epsilon(
            &mut wrong.unwrap(),
            &data,
            &cfg,
            clip,
            &target,
            opts,
            &mut rng,
        )
        .unwrap_err();
        assert!(matches!(e, TrainError::Shape(_)), "{e:?}");
        assert_eq!(
            Ledger::open(&path)
                .unwrap()
                .remaining("hospitals", "h1")
                .unwrap(),
            (rem_e, rem_d),
            "refused settings spend nothing"
        );

        // the second run would need about 1 more: refused, nothing trained or spent
        let before = net.params();
        let err =
            train_with_epsilon(&mut net, &data, &cfg, clip, &target, opts, &mut rng).unwrap_err();
        assert!(
            matches!(err, TrainError::Dp(DpError::BudgetExceeded { .. })),
            "{err:?}"
        );
        assert_eq!(net.params(), before, "nothing was trained");
        let after = Ledger::open(&path)
            .unwrap()
            .remaining("hospitals", "h1")
            .unwrap();
        assert_eq!(after, (rem_e, rem_d), "nothing was spent");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
