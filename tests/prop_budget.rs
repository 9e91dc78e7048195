//! Budgets that hold: refusals spend nothing, and many threads spending at once never
//! overspend (the oracle: successful spends times their amount never exceed the budget, and
//! equal what the ledger recorded).

use std::sync::Arc;

use shroud::dp::DpError;
use shroud::dp::budget::Ledger;

fn fresh(name: &str) -> (std::path::PathBuf, Ledger) {
    let dir = std::env::temp_dir().join(format!("shroud-budget-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.json");
    let l = Ledger::create(&path).unwrap();
    (path, l)
}

#[test]
fn refusal_spends_nothing_and_reports_what_remains() {
    let (path, l) = fresh("refuse");
    l.add_account("trial", "hospital-a", 1.0, 1e-5).unwrap();
    l.spend("trial", "hospital-a", 0.25, 4e-6).unwrap();
    match l.spend("trial", "hospital-a", 0.8, 0.0) {
        Err(DpError::BudgetExceeded {
            requested,
            remaining,
        }) => {
            assert_eq!(requested, (0.8, 0.0));
            assert_eq!(remaining, (0.75, 6e-6));
        }
        other => panic!("expected BudgetExceeded, got {other:?}"),
    }
    assert!(matches!(
        l.spend("trial", "hospital-a", 0.1, 7e-6),
        Err(DpError::BudgetExceeded { .. })
    ));
    assert_eq!(
        Ledger::open(&path)
            .unwrap()
            .remaining("trial", "hospital-a")
            .unwrap(),
        (0.75, 6e-6)
    );
    // exactly the remainder is allowed, then nothing more
    l.spend("trial", "hospital-a", 0.75, 6e-6).unwrap();
    assert!(matches!(
        l.spend("trial", "hospital-a", 1e-9, 0.0),
        Err(DpError::BudgetExceeded { .. })
    ));
    // accounts are separate per data set and per principal
    l.add_account("trial", "hospital-b", 0.5, 0.0).unwrap();
    l.add_account("registry", "hospital-a", 0.5, 0.0).unwrap();
    l.spend("trial", "hospital-b", 0.5, 0.0).unwrap();
    l.spend("registry", "hospital-a", 0.5, 0.0).unwrap();
    assert!(matches!(
        l.spend("nope", "hospital-a", 0.1, 0.0),
        Err(DpError::UnknownAccount(_))
    ));
    assert!(
        l.add_account("trial", "hospital-b", 1.0, 0.0).is_err(),
        "no silent reset of an account"
    );
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            l.spend("trial", "hospital-b", bad, 0.0),
            Err(DpError::InvalidParameter(_))
        ));
    }
}

#[test]
fn concurrent_spending_never_overspends() {
    let (path, l) = fresh("threads");
    l.add_account("d", "p", 10.0, 0.0).unwrap();
    let l = Arc::new(l);
    // 8 threads x 40 requests of 0.07: 22.4 requested, at most 142 can succeed (9.94).
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                (0..40)
                    .filter(|_| l.spend("d", "p", 0.07, 0.0).is_ok())
                    .count()
            })
        })
        .collect();
    let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(ok, 142);
    let spent = 10.0 - Ledger::open(&path).unwrap().remaining("d", "p").unwrap().0;
    assert!((spent - 0.07 * ok as f64).abs() < 1e-6, "{spent}");
    // two independent handles on the same file (as two processes would be) also serialize
    let other = Ledger::open(&path).unwrap();
    assert!(other.spend("d", "p", 0.07, 0.0).is_err());
    assert!(other.spend("d", "p", 0.06, 0.0).is_ok());
    assert!(
        l.spend("d", "p", 0.01, 0.0).is_err(),
        "the first handle re-reads the ledger"
    );
}
