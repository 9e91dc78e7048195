//! A hostile client against the inference service: every bad input gets a 4xx with a JSON
//! error naming the problem, never a panic or a 500, and the service keeps serving.
#![cfg(feature = "serve")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use num_bigint::BigUint;
use serde_json::{Value, json};
use shroud::serve::client::{encrypt_rows, http_request, request_body};
use shroud::serve::server::Handle;
use shroud::serve::{LinearModel, ServeConfig};

const MAX_BODY: usize = 200_000;
const MAX_BATCH: usize = 4;

fn server(min_key_bits: u32) -> Handle {
    let model = LinearModel::from_json(
        r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a", "b"],
            "coef": [1.5, -2.0], "intercept": 0.5}"#,
    )
    .unwrap();
    let cfg = ServeConfig {
        min_key_bits,
        max_body: MAX_BODY,
        max_batch: MAX_BATCH,
        workers: 1,
        ..ServeConfig::default()
    };
    Handle::start(model, cfg, "127.0.0.1:0".parse().unwrap()).unwrap()
}

fn post(h: &Handle, body: &[u8]) -> (u16, Value) {
    let (status, answer) = http_request(
        &h.addr().to_string(),
        "POST",
        "/v1/score",
        Some(body),
        Duration::from_secs(60),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&answer)
        .unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {answer:?}"));
    (status, v)
}

fn expect(h: &Handle, body: &[u8], status: u16, code: &str, needle: &str) {
    let (got, v) = post(h, body);
    assert_eq!(got, status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
}

/// A valid body for the 1024-bit test key, as JSON.
fn good_body(rows: usize) -> Value {
    let sk = common::key(1024);
    let rs: Vec<Vec<f64>> = (0..rows).map(|i| vec![i as f64, 0.5]).collect();
    let enc = encrypt_rows(sk.public_key(), &rs, &mut shroud::rng::seeded(1)).unwrap();
    request_body(sk.public_key(), &enc, false)
}

fn with_key(n: &BigUint, body: &Value) -> Vec<u8> {
    let mut b = body.clone();
    b["public_key"] = json!({"n": n.to_string(), "g": (n + 1u32).to_string()});
    b.to_string().into_bytes()
}

#[test]
fn keys_below_the_minimum_or_malformed_are_refused() {
    let h = server(2048);
    let body = good_body(1);
    // the 1024-bit key against a 2048-bit minimum
    expect(
        &h,
        body.to_string().as_bytes(),
        422,
        "key_too_small",
        "at least 2048",
    );
    let h = server(1024);
    let tiny = (BigUint::from(1u32) << 511u32) + 1u32;
    expect(
        &h,
        &with_key(&tiny, &body),
        422,
        "key_too_small",
        "512 bits",
    );
    let n = common::key(1024).public_key().n().clone();
    expect(
        &h,
        &with_key(&(&n + 1u32), &body),
        422,
        "invalid_key",
        "even",
    );
    let three = BigUint::from(3u32) * ((BigUint::from(1u32) << 1030u32) + 1u32);
    expect(
        &h,
        &with_key(&three, &body),
        422,
        "invalid_key",
        "divisible by 3",
    );
    let p = (BigUint::from(1u32) << 520u32) + 1297u32; // odd, no small factor needed
    let square = &p * &p;
    expect(&h, &with_key(&square, &body), 422, "invalid_key", "");
    let big = (BigUint::from(1u32) << 4200u32) + 1u32;
    expect(
        &h,
        &with_key(&big, &body),
        422,
        "key_too_large",
        "at most 4096",
    );
    let huge = BigUint::from(1u32) << 8250u32;
    expect(
        &h,
        &with_key(&(huge + 1u32), &body),
        422,
        "key_too_large",
        "8251 bits",
    );
    // g other than n + 1
    let mut b = body.clone();
    b["public_key"]["g"] = json!("2");
    expect(
        &h,
        b.to_string().as_bytes(),
        422,
        "invalid_key",
        "g must be n + 1",
    );
    // n not a number
    for bad in [
        json!("12ab"),
        json!(-5),
        json!(1.5),
        json!(null),
        json!([1]),
    ] {
        let mut b = body.clone();
        b["public_key"]["n"] = bad;
        expect(
            &h,
            b.to_string().as_bytes(),
            400,
            "malformed",
            "public_key.n",
        );
    }
    let mut b = body.clone();
    b["public_key"] = json!("n");
    expect(&h, b.to_string().as_bytes(), 400, "malformed", "public_key");
    // a JWK with a bad alg
    let mut b = body.clone();
    b["public_key"] = json!({"kty": "DAJ", "alg": "RSA", "key_ops": ["encrypt"], "n": "AQ"});
    expect(&h, b.to_string().as_bytes(), 400, "malformed", "alg");
}

#[test]
fn ciphertexts_outside_the_group_and_bad_exponents_are_refused() {
    let h = server(1024);
    let body = good_body(1);
    let n = common::key(1024).public_key().n().clone();
    let n2 = &n * &n;
    for (c, needle) in [
        (BigUint::from(0u32), "c = 0"),
        (n2.clone(), "c >= n^2"),
        (&n2 + 5u32, "c >= n^2"),
        (n.clone(), "shares a factor"),
        (&n * 7u32, "shares a factor"),
    ] {
        let mut b = body.clone();
        b["rows"][0][1][0] = json!(c.to_string());
        expect(
            &h,
            b.to_string().as_bytes(),
            422,
            "invalid_ciphertext",
            needle,
        );
    }
    for bad in [
        json!("-5"),
        json!("0x10"),
        json!(""),
        json!(3.5),
        json!({"v": 1}),
    ] {
        let mut b = body.clone();
        b["rows"][0][0][0] = bad;
        expect(&h, b.to_string().as_bytes(), 400, "malformed", "ciphertext");
    }
    let mut b = body.clone();
    b["rows"][0][0][0] = json!("9".repeat(6000));
    expect(&h, b.to_string().as_bytes(), 400, "malformed", "digits");
    let mut b = body.clone();
    b["rows"][0][0][1] = json!(5000);
    expect(&h, b.to_string().as_bytes(), 422, "exponent", "outside");
    let mut b = body.clone();
    b["rows"][0][0][1] = json!(-100);
    expect(&h, b.to_string().as_bytes(), 422, "exponent", "apart");
    // a ciphertext where the exponent goes: refused, and not echoed into the answer (or log)
    let mut b = body.clone();
    let c = b["rows"][0][0][0].clone();
    b["rows"][0][0][1] = c.clone();
    let (status, v) = post(&h, b.to_string().as_bytes());
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("malformed")),
        "{v}"
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(!msg.contains(&c.as_str().unwrap()[..40]), "{msg}");
    assert!(msg.len() < 320, "{msg}");
    for bad in [
        json!(1.5),
        json!("3"),
        json!(1e300),
        json!(i64::MAX as u64 + 1),
    ] {
        let mut b = body.clone();
        b["rows"][0][0][1] = bad;
        expect(&h, b.to_string().as_bytes(), 400, "malformed", "");
    }
}

#[test]
fn shapes_sizes_and_syntax_are_checked() {
    let h = server(1024);
    let body = good_body(1);
    // wrong feature count
    let mut b = body.clone();
    b["rows"][0].as_array_mut().unwrap().pop();
    expect(
        &h,
        b.to_string().as_bytes(),
        422,
        "feature_count",
        "1 values",
    );
    // a huge batch (checked before any ciphertext)
    let mut b = body.clone();
    b["rows"] = json!(vec![b["rows"][0].clone(); MAX_BATCH + 1]);
    expect(
        &h,
        b.to_string().as_bytes(),
        413,
        "batch_too_large",
        "limit of 4",
    );
    // a body over the limit, refused from its Content-Length
    let big = vec![b' '; MAX_BODY + 1];
    expect(&h, &big, 413, "body_too_large", "200000");
    // malformed JSON, wrong shapes
    for (text, needle) in [
        ("{", "EOF"),
        ("[]", "RawRequest"),
        ("null", "invalid type"),
        ("{\"values\": []}", "public_key"),
        ("\u{feff}{}", ""),
    ] {
        expect(&h, text.as_bytes(), 400, "malformed", needle);
    }
    // too-deep nesting
    // too-deep nesting, at the top, in the key and in a row: refused, the stack intact
    let deep = |k: usize| format!("{}{}", "[".repeat(k), "]".repeat(k));
    expect(&h, deep(99_000).as_bytes(), 400, "malformed", "");
    for (prefix, suffix) in [
        ("{\"public_key\": {\"n\": ", "}, \"values\": []}"),
        ("{\"public_key\": ", ", \"values\": []}"),
        ("{\"public_key\": {\"n\": 3}, \"values\": ", "}"),
        (
            "{\"public_key\": {\"n\": 3}, \"rows\": [[[",
            ", 1], [\"5\", 0]]]}",
        ),
        ("{\"public_key\": {\"n\": 3}, \"rows\": [[[\"5\", ", "]]]}"),
    ] {
        let n = common::key(1024).public_key().n().to_string();
        let text = format!("{}{}{suffix}", prefix.replace('3', &n), deep(50_000));
        expect(&h, text.as_bytes(), 400, "malformed", "");
    }
    // both or neither of values / rows, empty rows
    let mut b = body.clone();
    b["values"] = b["rows"][0].clone();
    expect(
        &h,
        b.to_string().as_bytes(),
        400,
        "malformed",
        "exactly one",
    );
    let mut b = body.clone();
    b["rows"] = json!([]);
    expect(&h, b.to_string().as_bytes(), 400, "malformed", "empty");
    // packing a single record, or with an absurd mantissa bound
    let mut b = body.clone();
    b["values"] = b["rows"][0].clone();
    b.as_object_mut().unwrap().remove("rows");
    b["pack"] = json!(true);
    expect(&h, b.to_string().as_bytes(), 422, "packing", "batch");
    let mut b = body.clone();
    b["pack"] = json!(true);
    b["mantissa_bits"] = json!(0);
    expect(
        &h,
        b.to_string().as_bytes(),
        422,
        "packing",
        "mantissa_bits",
    );
    b["mantissa_bits"] = json!(500);
    expect(&h, b.to_string().as_bytes(), 422, "packing", "do not fit");
}

fn raw(h: &Handle, request: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(h.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // chunked or not, the JSON object sits between the first '{' and the last '}'
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap(),
        _ => Value::Null,
    };
    (status, json)
}

#[test]
fn protocol_level_abuse_gets_json_errors() {
    let h = server(1024);
    let addr = h.addr().to_string();
    // wrong content type
    let (status, v) = raw(
        &h,
        format!("POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").as_bytes(),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    // a chunked body with no length that grows past the limit
    let chunk = "a".repeat(MAX_BODY / 2);
    let mut req = format!(
        "POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..3 {
        req.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    req.push_str("0\r\n\r\n");
    let (status, v) = raw(&h, req.as_bytes());
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    // a lying Content-Length
    let (status, v) = raw(
        &h,
        format!("POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    // wrong method, unknown path
    let (status, v) = raw(
        &h,
        format!("GET /v1/score HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, v) = raw(
        &h,
        format!("GET /v2/steal-weights HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // after all this, the service still answers
    let (status, _) = raw(
        &h,
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200);
    let (status, v) = post(&h, good_body(2).to_string().as_bytes());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_model_files_are_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("shroud-serve-badmodel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, needle) in [
        ("", "not JSON"),
        (
            r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a"], "coef": [1, 2], "intercept": 0}"#,
            "coefficients",
        ),
        (
            r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a"], "coef": [[1], [2]], "intercept": 0}"#,
            "rows",
        ),
        (
            r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a"], "coef": [1], "intercept": [0, 1]}"#,
            "intercept",
        ),
        (
            r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a"], "coef": [1], "intercept": 0, "scaler": {"mean": [0], "scale": [-1]}}"#,
            "positive",
        ),
        (
            r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a"], "coef": [1], "intercept": 0, "extra": 1}"#,
            "unknown field",
        ),
        (r#"{"format": "shroud-model"}"#, ""),
    ] {
        let path = dir.join("m.json");
        std::fs::write(&path, text).unwrap();
        let e = LinearModel::load(&path).unwrap_err();
        assert_eq!(e.code(), "model");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
    let e = LinearModel::load(&dir.join("missing.json")).unwrap_err();
    assert!(e.to_string().contains("missing.json"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_request_over_the_time_limit_gets_504_and_the_service_goes_on() {
    let model = LinearModel::from_json(
        r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a", "b"],
            "coef": [1.5, -2.0], "intercept": 0.5}"#,
    )
    .unwrap();
    // A limit no request can meet: the scoring job is still running when it expires.
    let cfg = ServeConfig {
        min_key_bits: 1024,
        request_timeout: Duration::from_nanos(1),
        workers: 1,
        ..ServeConfig::default()
    };
    let h = Handle::start(model, cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
    for _ in 0..2 {
        let (status, v) = post(&h, good_body(4).to_string().as_bytes());
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (504, Some("timeout")),
            "{v}"
        );
    }
    h.shutdown().unwrap();
}

#[test]
fn a_stalled_client_cannot_hold_shutdown_forever() {
    let model = LinearModel::from_json(
        r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a", "b"],
            "coef": [1.5, -2.0], "intercept": 0.5}"#,
    )
    .unwrap();
    let cfg = ServeConfig {
        min_key_bits: 1024,
        request_timeout: Duration::from_secs(3600),
        shutdown_grace: Duration::from_millis(200),
        workers: 1,
        ..ServeConfig::default()
    };
    let h = Handle::start(model, cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = h.addr().to_string();
    // Headers and half a body, then silence: without the grace period the graceful shutdown
    // would wait for this request for an hour.
    let mut stalled = TcpStream::connect(h.addr()).unwrap();
    stalled
        .write_all(format!("POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"public_key\"").as_bytes())
        .unwrap();
    let (status, _) = raw(
        &h,
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200);
    let r = h.shutdown();
    match r {
        Ok(()) => {}
        Err(e) => assert!(e.to_string().contains("grace period"), "{e}"),
    }
    drop(stalled);
}

#[test]
fn a_client_trickling_its_headers_is_cut_off_at_the_header_timeout() {
    let model = LinearModel::from_json(
        r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a", "b"],
            "coef": [1.5, -2.0], "intercept": 0.5}"#,
    )
    .unwrap();
    let cfg = ServeConfig {
        min_key_bits: 1024,
        header_timeout: Duration::from_millis(600),
        request_timeout: Duration::from_secs(3600),
        workers: 1,
        ..ServeConfig::default()
    };
    let h = Handle::start(model, cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = h.addr().to_string();
    // Slowloris: one header line every 100 ms, never the blank line that ends them.
    let start = std::time::Instant::now();
    let mut s = TcpStream::connect(h.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s.write_all(format!("POST /v1/score HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .unwrap();
    let mut closed_after = None;
    let mut buf = [0u8; 1024];
    for i in 0..100 {
        if s.write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
            .is_err()
        {
            closed_after = Some(start.elapsed());
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => {
                closed_after = Some(start.elapsed());
                break;
            }
            // An answer (a 408, say) is fine; the close follows.
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed_after = Some(start.elapsed());
                break;
            }
        }
    }
    let t = closed_after.expect("the trickling connection was never closed");
    assert!(
        t >= Duration::from_millis(500) && t < Duration::from_secs(5),
        "closed after {t:?}"
    );
    // A connection that sends nothing at all is closed too.
    let mut idle = TcpStream::connect(h.addr()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let t0 = std::time::Instant::now();
    let r = idle.read(&mut buf);
    assert!(
        matches!(r, Ok(0) | Err(_)) && t0.elapsed() < Duration::from_secs(5),
        "{r:?} after {:?}",
        t0.elapsed()
    );
    // The service goes on.
    let (status, _) = raw(
        &h,
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200);
    h.shutdown().unwrap();
}

fn post_binary(h: &Handle, body: &[u8]) -> (u16, Value) {
    let addr = h.addr().to_string();
    let mut req = format!(
        "POST /v1/score HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        shroud::serve::binary::CONTENT_TYPE,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let mut s = TcpStream::connect(h.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.write_all(&req);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]);
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    if status == 200 {
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/vnd.shroud.score.v1+binary"),
            "{head}"
        );
        return (status, Value::Null);
    }
    raw(h, &req)
}

fn expect_binary(h: &Handle, body: &[u8], status: u16, code: &str, needle: &str) {
    let (got, v) = post_binary(h, body);
    assert_eq!(got, status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
}

#[test]
fn truncated_oversized_and_forged_binary_bodies_get_json_errors() {
    let h = server(1024);
    let sk = common::key(1024);
    let pk = sk.public_key();
    let rs: Vec<Vec<f64>> = (0..2).map(|i| vec![i as f64, 0.5]).collect();
    let enc = encrypt_rows(pk, &rs, &mut shroud::rng::seeded(3)).unwrap();
    let good = shroud::serve::binary::encode_request(pk, &enc, None).unwrap();
    // the good body is served
    let (status, _) = post_binary(&h, &good);
    assert_eq!(status, 200);
    // truncated anywhere: in the header, the key, the ciphertexts
    for cut in [3, 10, 20, 200, good.len() - 1] {
        let (status, v) = post_binary(&h, &good[..cut]);
        assert_eq!(status, 400, "cut at {cut}: {v}");
        assert_eq!(v["error"]["code"], "malformed", "{v}");
    }
    // a trailing byte
    let mut long = good.clone();
    long.push(0);
    expect_binary(&h, &long, 400, "malformed", "present");
    // bad magic, version, flags
    let mut b = good.clone();
    b[0] = b'X';
    expect_binary(&h, &b, 400, "malformed", "magic");
    let mut b = good.clone();
    b[4] = 9;
    expect_binary(&h, &b, 400, "malformed", "version");
    let mut b = good.clone();
    b[5] = 0x80;
    expect_binary(&h, &b, 400, "malformed", "flags");
    // rows beyond --max-batch and a huge count: refused from the header, before allocating
    let mut b = good.clone();
    b[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    expect_binary(&h, &b, 413, "batch_too_large", "exceeds");
    let mut b = good.clone();
    b[8..12].copy_from_slice(&3u32.to_be_bytes());
    expect_binary(&h, &b, 400, "malformed", "entries");
    // the wrong feature count
    let mut b = good.clone();
    b[12..16].copy_from_slice(&3u32.to_be_bytes());
    expect_binary(&h, &b, 422, "feature_count", "features");
    // a body over --max-body, by its Content-Length
    let big = vec![0u8; MAX_BODY + 1];
    expect_binary(&h, &big, 413, "body_too_large", "limit");
    // a ciphertext outside Z*_{n^2}: zero
    let mut b = good.clone();
    let width = pk.ciphertext_bytes();
    let last = b.len() - width;
    for x in &mut b[last..] {
        *x = 0;
    }
    expect_binary(&h, &b, 422, "invalid_ciphertext", "row 1");
    // a key below the minimum
    let h2 = server(2048);
    expect_binary(&h2, &good, 422, "key_too_small", "1024");
    // the JSON error also for an unknown content type
    let (status, v) = raw(
        &h,
        format!(
            "POST /v1/score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            good.len()
        )
        .as_bytes(),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
}

#[test]
fn bad_authorization_headers_get_401() {
    let model = LinearModel::from_json(
        r#"{"format": "sklearn-linear-v1", "kind": "linear", "features": ["a", "b"],
            "coef": [1.5, -2.0], "intercept": 0.5}"#,
    )
    .unwrap();
    let tokens = shroud::serve::tokens::ApiTokens::parse(&format!(
        "a {}",
        shroud::serve::tokens::hash_token("right")
    ))
    .unwrap();
    let h = Handle::start(
        model,
        ServeConfig {
            min_key_bits: 1024,
            workers: 1,
            api_tokens: Some(std::sync::Arc::new(tokens)),
            require_token: true,
            ..ServeConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let body = good_body(1).to_string();
    let long = "x".repeat(600);
    for auth in [
        None,
        Some("Basic cmlnaHQ="),
        Some("Bearer wrong"),
        Some("Bearer "),
        Some(long.as_str()),
    ] {
        let mut req = format!(
            "POST /v1/score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(a) = auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let (status, v) = raw(&h, req.as_bytes());
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{auth:?}: {v}"
        );
    }
    let req = format!(
        "POST /v1/score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer right\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(raw(&h, req.as_bytes()).0, 200);
}
