//! The CLI on bad input: exit code 2, one line on stderr, never a panic. And a round trip
//! of the happy path with the exact output shapes other tools depend on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shroud(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shroud"))
        .args(args)
        .output()
        .unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shroud-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn fails_cleanly(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: status {:?}, stderr {err}",
        out.status
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: stderr must be one line: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}: nothing on stdout");
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn round_trip_through_files() {
    let d = tmpdir("ok");
    let sk = shroud::format::jwk::secret_key_to_jwk(common::key(2048), "test");
    let private = write(&d, "private.json", &sk.to_string());
    let public = write(&d, "public.json", &stdout(&shroud(&["pubkey", &private])));
    let a = write(
        &d,
        "a.json",
        &stdout(&shroud(&["encrypt", &public, "1.25"])),
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    assert_eq!(v["e"], -32, "pheutil's exponent");
    assert!(v["v"].is_string());
    let b = write(
        &d,
        "b.json",
        &stdout(&shroud(&["encrypt", &public, "--", "-3"])),
    );
    assert_eq!(stdout(&shroud(&["decrypt", &private, &b])).trim(), "-3.0");
    let s = write(&d, "s.json", &stdout(&shroud(&["add", &public, &a, &b])));
    assert_eq!(stdout(&shroud(&["decrypt", &private, &s])).trim(), "-1.75");
    let m = write(
        &d,
        "m.json",
        &stdout(&shroud(&["multiply", &public, &a, "--", "-4"])),
    );
    assert_eq!(stdout(&shroud(&["decrypt", &private, &m])).trim(), "-5.0");
    let i = write(&d, "i.json", r#"{"v": "1", "e": 3}"#);
    assert_eq!(
        stdout(&shroud(&["decrypt", &private, &i])).trim(),
        "0",
        "E(0) with r = 1, exponent >= 0 prints an integer"
    );
    let third = write(&d, "t.json", &stdout(&shroud(&["encrypt", &public, "0.1"])));
    assert_eq!(
        stdout(&shroud(&["decrypt", &private, &third]))
            .trim()
            .parse::<f64>()
            .unwrap(),
        0.1
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let d = tmpdir("bad");
    let sk = shroud::format::jwk::secret_key_to_jwk(common::key(2048), "test");
    let private = write(&d, "private.json", &sk.to_string());
    let public = write(&d, "public.json", &stdout(&shroud(&["pubkey", &private])));
    let other = shroud::format::jwk::secret_key_to_jwk(common::other_key(), "other");
    let other_priv = write(&d, "other.json", &other.to_string());
    let ct = write(&d, "c.json", &stdout(&shroud(&["encrypt", &public, "7"])));
    let garbage = write(&d, "garbage.json", "\u{0}\u{1}not json");
    let empty = write(&d, "empty.json", "");
    let zero = write(&d, "zero.json", r#"{"v": "0", "e": 0}"#);
    let big = write(&d, "big.json", &"9".repeat(100_000));
    let mut truncated = sk.to_string();
    truncated.truncate(100);
    let truncated = write(&d, "trunc.json", &truncated);
    let nines = "9".repeat(700);
    let missing = d.join("missing.json").to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("missing key file", vec!["pubkey", &missing]),
        ("garbage key", vec!["pubkey", &garbage]),
        ("empty key", vec!["pubkey", &empty]),
        ("truncated key", vec!["pubkey", &truncated]),
        ("oversized key", vec!["pubkey", &big]),
        ("public key as private", vec!["decrypt", &public, &ct]),
        ("not a number", vec!["encrypt", &public, "abc"]),
        ("NaN", vec!["encrypt", &public, "NaN"]),
        ("infinity", vec!["encrypt", &public, "inf"]),
        ("too large", vec!["encrypt", &public, &nines]),
        ("garbage ciphertext", vec!["decrypt", &private, &garbage]),
        ("zero ciphertext", vec!["decrypt", &private, &zero]),
        ("missing ciphertext", vec!["decrypt", &private, &missing]),
        ("ciphertext as key", vec!["decrypt", &ct, &ct]),
        ("bad scalar", vec!["multiply", &public, &ct, "x"]),
        ("bad add operand", vec!["add", &public, &ct, &empty]),
        ("bad key size", vec!["keygen", "--bits", "1000"]),
        (
            "1024 without the test flag",
            vec!["keygen", "--bits", "1024"],
        ),
        ("bad bench size", vec!["bench", "paillier", "--bits", "512"]),
    ];
    for (what, args) in cases {
        fails_cleanly(&shroud(&args), what);
    }
    // a ciphertext under another key decrypts to garbage in phe; here the value is checked
    // against the other key's n^2 and decrypts only if it lies in Z*_{n'^2}: it must never
    // panic.
    let out = shroud(&["decrypt", &other_priv, &ct]);
    assert!(out.status.code() == Some(2) || out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    // usage errors: exit 2 and one line too
    fails_cleanly(&shroud(&["encrypt"]), "missing arguments");
    fails_cleanly(&shroud(&["no-such-command"]), "unknown command");
    fails_cleanly(&shroud(&["keygen", "--bits", "many"]), "unparsable number");
    assert!(shroud(&["--help"]).status.success());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn dp_release_gaussian_beyond_exp_overflow_adds_real_noise() {
    // epsilon 710 used to calibrate sigma to about 1e-300 and return 3e-290 almost untouched
    for eps in ["710", "1e3", "1e6"] {
        let mut moved = 0;
        for _ in 0..3 {
            let out = stdout(&shroud(&[
                "dp",
                "release",
                "--mechanism",
                "gaussian",
                "--epsilon",
                eps,
                "--delta",
                "1e-5",
                "--sensitivity",
                "1",
                "--json",
                "3e-290",
            ]));
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["epsilon"].as_f64().unwrap(), eps.parse::<f64>().unwrap());
            assert_eq!(v["delta"], 1e-5);
            // sigma is at least 7e-4 (epsilon 1e6), so the grid is above 2^-32
            let g = v["granularity"].as_f64().unwrap();
            assert!(g > 2f64.powi(-33), "epsilon {eps}: granularity {g}");
            if v["value"].as_f64().unwrap().abs() > 1e-6 {
                moved += 1;
            }
        }
        assert!(moved >= 1, "epsilon {eps}: no noise in three releases");
    }
}

#[test]
fn dp_accounting_commands() {
    let out = stdout(&shroud(&[
        "dp",
        "epsilon",
        "--sampling-rate",
        "0.01",
        "--noise-multiplier",
        "4",
        "--steps",
        "10000",
        "--delta",
        "1e-5",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["accountant"], "rdp");
    assert_eq!(v["delta"], 1e-5);
    assert!((v["epsilon"].as_f64().unwrap() - 1.0354900660362436).abs() < 1e-9);
    let sigma: f64 = stdout(&shroud(&[
        "dp",
        "calibrate",
        "--target-epsilon",
        "1",
        "--delta",
        "1e-5",
        "--sampling-rate",
        "0.01",
        "--steps",
        "10000",
    ]))
    .trim()
    .parse()
    .unwrap();
    assert!(sigma > 4.0 && sigma < 4.3, "{sigma}");
    let out = stdout(&shroud(&[
        "dp",
        "epsilon",
        "--sampling-rate",
        "0.01",
        "--noise-multiplier",
        "4",
        "--steps",
        "10000",
        "--delta",
        "1e-5",
        "--accountant",
        "pld",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["accountant"], "pld");
    // dp_accounting's 0.9469993068930963, plus the FFT round-off bound charged to delta
    // (about 7e-6 in epsilon here); never below it
    let eps = v["epsilon"].as_f64().unwrap();
    assert!(
        eps >= 0.9469993068930963 - 1e-9 && eps - 0.9469993068930963 < 2e-5,
        "{eps}"
    );
    for args in [
        vec![
            "dp",
            "epsilon",
            "--sampling-rate",
            "1.5",
            "--noise-multiplier",
            "1",
            "--steps",
            "1",
            "--delta",
            "1e-5",
        ],
        vec![
            "dp",
            "epsilon",
            "--sampling-rate",
            "0.1",
            "--noise-multiplier",
            "0",
            "--steps",
            "1",
            "--delta",
            "1e-5",
        ],
        vec![
            "dp",
            "epsilon",
            "--sampling-rate",
            "0.1",
            "--noise-multiplier",
            "1",
            "--steps",
            "1",
            "--delta",
            "0",
        ],
        vec![
            "dp",
            "epsilon",
            "--sampling-rate",
            "NaN",
            "--noise-multiplier",
            "1",
            "--steps",
            "1",
            "--delta",
            "1e-5",
        ],
        vec![
            "dp",
            "calibrate",
            "--target-epsilon",
            "-1",
            "--delta",
            "1e-5",
            "--sampling-rate",
            "0.1",
            "--steps",
            "1",
        ],
        vec![
            "dp",
            "epsilon",
            "--sampling-rate",
            "0.1",
            "--noise-multiplier",
            "1",
            "--steps",
            "1",
            "--delta",
            "1e-5",
            "--accountant",
            "prv",
        ],
    ] {
        fails_cleanly(&shroud(&args), &args.join(" "));
    }
}

#[test]
fn verify_key_reproves_primality_only_when_asked() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let b64 = |x: &num_bigint::BigUint| URL_SAFE_NO_PAD.encode(x.to_bytes_be());
    let dir = tmpdir("verify-key");
    // A real key passes with and without --verify-key.
    let sk = common::key(2048);
    let good = shroud::format::jwk::secret_key_to_jwk(sk, "k").to_string();
    let good = write(&dir, "good.json", &good);
    for args in [vec!["pubkey", &good], vec!["pubkey", "--verify-key", &good]] {
        let out = shroud(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A composite factor of the right shape: loads without the option (constant-time
    // checks only), refused with it.
    let p = sk.primes_vartime().0;
    let fake = common::key(1024).public_key().n().clone();
    let n = &p * &fake;
    let text = format!(
        r#"{{"kty": "DAJ", "key_ops": ["decrypt"], "p": "{}", "q": "{}", "pub": {{"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": "{}"}}}}"#,
        b64(&p),
        b64(&fake),
        b64(&n)
    );
    let bad = write(&dir, "composite.json", &text);
    assert!(shroud(&["pubkey", &bad]).status.success());
    let out = shroud(&["pubkey", "--verify-key", &bad]);
    fails_cleanly(&out, "composite key with --verify-key");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not prime"));
    let ct = write(&dir, "ct.json", r#"{"v": "5", "e": 0}"#);
    fails_cleanly(
        &shroud(&["decrypt", "--verify-key", &bad, &ct]),
        "decrypt with --verify-key",
    );
}

#[test]
fn channel_options_are_checked_before_any_connection() {
    let d = tmpdir("channel");
    let set = write(&d, "set.txt", "ann\nbob\n");
    let out = shroud(&["identity", "new", "--out", d.join("id").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fp = stdout(&out);
    assert_eq!(fp.trim().len(), 64, "a fingerprint is 64 hex digits: {fp}");
    let id = d.join("id").to_str().unwrap().to_string();
    // The same directory again: refused, the identity is kept.
    fails_cleanly(
        &shroud(&["identity", "new", "--out", &id]),
        "identity overwrite",
    );
    assert_eq!(
        stdout(&shroud(&["identity", "show", &id])).trim(),
        fp.trim()
    );
    let good_peers = write(&d, "peers.txt", &format!("server {}", fp.trim()));
    let query = |extra: &[&str]| {
        let mut args = vec![
            "psi",
            "query",
            "--connect",
            "127.0.0.1:9",
            "--input",
            &set,
            "--mode",
            "intersection",
            "--timeout",
            "1",
        ];
        args.extend_from_slice(extra);
        shroud(&args)
    };
    let out = query(&[]);
    fails_cleanly(&out, "no channel options");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--identity DIR and --peers FILE"));
    let bad_peers = write(&d, "bad.txt", "server 1234\n");
    let out = query(&["--identity", &id, "--peers", &bad_peers]);
    fails_cleanly(&out, "malformed peers file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: a fingerprint is 64 hex"));
    let out = query(&[
        "--identity",
        &id,
        "--peers",
        &good_peers,
        "--insecure-plaintext",
    ]);
    fails_cleanly(&out, "both secure and insecure");
    let out = query(&[
        "--identity",
        &id,
        "--peers",
        &good_peers,
        "--server-name",
        "other",
    ]);
    fails_cleanly(&out, "unpinned server name");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key is pinned for peer \"other\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = d.join("id").join("identity.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = query(&["--identity", &id, "--peers", &good_peers]);
        fails_cleanly(&out, "world-readable identity");
        assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    }
}
