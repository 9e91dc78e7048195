//! RFC 9497 OPRF(ristretto255, SHA-512) and RFC 9380 expand_message_xmd known answers.

use curve25519_dalek::ristretto::CompressedRistretto;
use serde_json::Value;
use shroud::psi::oprf::{
    Blind, OprfKey, RFC_HASH_TO_GROUP_DST, decode_element, expand_message_xmd,
};

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vectors/rfc9497_oprf_ristretto255_sha512.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr32(v: &Value) -> [u8; 32] {
    hx(v).try_into().unwrap()
}

#[test]
fn expand_message_xmd_matches_rfc9380() {
    let v = vectors();
    let e = &v["expand_message_xmd_sha512"];
    let dst = e["dst"].as_str().unwrap().as_bytes();
    let cases = e["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let out = expand_message_xmd(
            &[c["msg"].as_str().unwrap().as_bytes()],
            dst,
            c["len_in_bytes"].as_u64().unwrap() as usize,
        )
        .unwrap();
        assert_eq!(out, hx(&c["uniform_bytes"]));
    }
}

#[test]
fn oprf_matches_rfc9497() {
    let v = vectors();
    let o = &v["oprf"];
    assert_eq!(hx(&o["hash_to_group_dst"]), RFC_HASH_TO_GROUP_DST);
    let key = OprfKey::derive(&arr32(&o["seed"]), &hx(&o["key_info"])).unwrap();
    assert_eq!(key.to_bytes().to_vec(), hx(&o["sk_sm"]));
    let cases = o["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let input = hx(&c["input"]);
        let blind = Blind::from_bytes(arr32(&c["blind"])).unwrap();
        let blinded = blind.blind(&input, RFC_HASH_TO_GROUP_DST).unwrap();
        assert_eq!(
            blinded.compress().to_bytes().to_vec(),
            hx(&c["blinded_element"])
        );
        // The server parses the client's bytes as it would off the wire.
        let parsed = decode_element(&blinded.compress().to_bytes(), 0).unwrap();
        let evaluated = key.blind_evaluate(&parsed);
        assert_eq!(
            evaluated.compress().to_bytes().to_vec(),
            hx(&c["evaluation_element"])
        );
        let out = blind.finalize(&input, &evaluated);
        assert_eq!(out.to_vec(), hx(&c["output"]));
        // The server's direct evaluation gives the same output.
        assert_eq!(
            key.evaluate(&input, RFC_HASH_TO_GROUP_DST)
                .unwrap()
                .to_vec(),
            hx(&c["output"])
        );
    }
}

#[test]
fn invalid_elements_are_refused() {
    // The identity, a non-canonical encoding (p itself) and a non-square are rejected.
    let identity = [0u8; 32];
    assert!(
        decode_element(&identity, 3)
            .unwrap_err()
            .to_string()
            .contains("identity")
    );
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    assert!(decode_element(&p, 0).is_err());
    let mut bad = [0u8; 32];
    bad[0] = 1; // negative field element (odd): not canonical ristretto
    assert!(decode_element(&bad, 0).is_err());
    assert!(CompressedRistretto(bad).decompress().is_none());
}
