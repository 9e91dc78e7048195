//! A missing, corrupt or tampered ledger is an error, never a fresh budget; a crash (an
//! interrupted write, a killed process) never resets or loses spent budget.

use std::path::PathBuf;
use std::process::Command;

use shroud::dp::DpError;
use shroud::dp::budget::Ledger;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shroud-ledger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ledger_err(r: Result<Ledger, DpError>) -> String {
    match r {
        Err(DpError::Ledger(m)) => m,
        other => panic!("expected a ledger error, got {other:?}"),
    }
}

#[test]
fn missing_and_corrupt_ledgers_are_errors() {
    let d = dir("corrupt");
    let path = d.join("ledger.json");
    assert!(ledger_err(Ledger::open(&path)).contains("missing ledger is an error"));
    let l = Ledger::create(&path).unwrap();
    l.add_account("d", "p", 1.0, 0.0).unwrap();
    l.spend("d", "p", 0.5, 0.0).unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    assert!(ledger_err(Ledger::create(&path)).contains("refusing to reset"));
    let cases = [
        ("empty", String::new()),
        ("garbage", "\u{0}\u{1}garbage".to_string()),
        ("truncated", good[..good.len() / 2].to_string()),
        (
            "tampered spend",
            good.replace("\"spent_eps\": 500000000", "\"spent_eps\": 0"),
        ),
        ("wrong format", good.replace("shroud-dp-ledger", "other")),
        (
            "wrong version",
            good.replace("\"version\": 1", "\"version\": 9"),
        ),
    ];
    for (what, text) in cases {
        assert_ne!(text, good, "{what}: the case must change the file");
        std::fs::write(&path, &text).unwrap();
        let m = ledger_err(Ledger::open(&path));
        assert!(!m.is_empty(), "{what}");
        assert!(
            matches!(l.spend("d", "p", 0.1, 0.0), Err(DpError::Ledger(_))),
            "{what}: no spending on a corrupt ledger"
        );
    }
    // a ledger whose checksum was recomputed over impossible amounts is still refused
    std::fs::write(&path, &good).unwrap();
    assert_eq!(
        Ledger::open(&path).unwrap().remaining("d", "p").unwrap().0,
        0.5
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn an_interrupted_write_leaves_the_previous_ledger() {
    let d = dir("interrupted");
    let path = d.join("ledger.json");
    let l = Ledger::create(&path).unwrap();
    l.add_account("d", "p", 1.0, 0.0).unwrap();
    l.spend("d", "p", 0.4, 0.0).unwrap();
    // a writer that died after writing half of its temporary file, before the rename
    let before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        d.join(".ledger.json.tmp-999999"),
        &before[..before.len() / 3],
    )
    .unwrap();
    let again = Ledger::open(&path).unwrap();
    assert_eq!(again.remaining("d", "p").unwrap().0, 0.6);
    again.spend("d", "p", 0.1, 0.0).unwrap();
    assert_eq!(
        Ledger::open(&path).unwrap().remaining("d", "p").unwrap().0,
        0.5
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn killed_processes_never_reset_or_lose_spent_budget() {
    let d = dir("killed");
    let path = d.join("ledger.json");
    let l = Ledger::create(&path).unwrap();
    l.add_account("d", "p", 1000.0, 0.0).unwrap();
    let bin = env!("CARGO_BIN_EXE_shroud");
    let ledger = path.to_str().unwrap();
    let mut last_spent = 0.0;
    let attempts: u32 = 300;
    let mut killed_one = false;
    for i in 0..attempts {
        let mut child = Command::new(bin)
            .args([
                "dp",
                "budget",
                "--ledger",
                ledger,
                "spend",
                "--dataset",
                "d",
                "--principal",
                "p",
                "--epsilon",
                "1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // kill at varying moments: before, during or after its write
        std::thread::sleep(std::time::Duration::from_micros(100 * u64::from(i)));
        let _ = child.kill();
        let _ = child.wait();
        let now = Ledger::open(&path).expect("the ledger survives a killed writer");
        let spent = 1000.0 - now.remaining("d", "p").unwrap().0;
        assert!(
            spent == last_spent || spent == last_spent + 1.0,
            "spent went from {last_spent} to {spent}"
        );
        killed_one |= spent == last_spent;
        last_spent = spent;
        if i >= 30 && killed_one && last_spent >= 1.0 {
            break;
        }
    }
    // the schedule must have caught writers both before and after they committed
    assert!(
        last_spent >= 1.0,
        "no writer ever finished: the test is not exercising commits"
    );
    assert!(
        killed_one,
        "every writer finished: the test never killed one"
    );
    let _ = std::fs::remove_dir_all(&d);
}
