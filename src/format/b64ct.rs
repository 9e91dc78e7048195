//! Constant-time base64url (RFC 4648 section 5) for secret key material: no table lookup
//! and no branch on a secret character (the arithmetic of RustCrypto's `base64ct`).
//!
//! The general-purpose `base64` crate indexes a table by each input byte, which leaks the
//! bytes of p and q through the cache; these functions do not.

use crypto_bigint::Choice;
use zeroize::Zeroizing;

use crate::ct::declassify;
use crate::error::{Error, Result};

/// The 6-bit value of a base64url character, or -1. Constant time.
fn decode6(c: u8) -> i16 {
    let c = i16::from(c);
    let mut ret: i16 = -1;
    // 'A'..='Z' -> 0..=25
    ret += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64);
    // 'a'..='z' -> 26..=51
    ret += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70);
    // '0'..='9' -> 52..=61
    ret += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5);
    // '-' -> 62
    ret += (((0x2c - c) & (c - 0x2e)) >> 8) & 63;
    // '_' -> 63
    ret += (((0x5e - c) & (c - 0x60)) >> 8) & 64;
    ret
}

/// The base64url character of a 6-bit value. Constant time.
fn encode6(v: u8) -> u8 {
    let v = i16::from(v);
    let mut diff: i16 = 0x41;
    diff += ((25 - v) >> 8) & 6;
    diff -= ((51 - v) >> 8) & 75;
    diff -= ((61 - v) >> 8) & 13;
    diff += ((62 - v) >> 8) & 49;
    (v + diff) as u8
}

/// Decodes base64url, with or without `=` padding, into a buffer wiped on drop.
///
/// # Errors
/// [`Error::Malformed`] for a length that no encoding has, or any character outside the
/// alphabet (reported once, after the whole input was processed).
///
/// # Security
/// Constant time in the characters; only the length and the padding (public layout) and
/// whether the input was valid are revealed.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut s = text.as_bytes();
    // Up to two '=' at the end: their count is public (it follows from the length).
    for _ in 0..2 {
        if let Some((&last, rest)) = s.split_last()
            && declassify(Choice::from_u8_eq(last, b'='))
        {
            s = rest;
        }
    }
    if s.len() % 4 == 1 {
        return Err(Error::malformed("base64url input has an impossible length"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() / 4 * 3 + 2));
    let mut err: i16 = 0;
    for chunk in s.chunks(4) {
        let mut v = [0i16; 4];
        for (d, c) in v.iter_mut().zip(chunk) {
            *d = decode6(*c);
            err |= *d;
        }
        let b0 = ((v[0] << 2) | (v[1] >> 4)) as u8;
        let b1 = ((v[1] << 4) | (v[2] >> 2)) as u8;
        let b2 = ((v[2] << 6) | v[3]) as u8;
        // A chunk of k >= 2 characters carries k - 1 bytes.
        out.extend_from_slice(&[b0, b1, b2][..chunk.len() - 1]);
        v.iter_mut().for_each(|x| *x = 0);
    }
    // Any -1 set the sign bit of `err`.
    if declassify(Choice::from_u16_lsb((err >> 15) as u16 & 1)) {
        return Err(Error::malformed("input is not base64url"));
    }
    Ok(out)
}

/// Encodes as base64url without padding. Constant time in the bytes.
pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let chars = [
            encode6(b[0] >> 2),
            encode6(((b[0] << 4) | (b[1] >> 4)) & 63),
            encode6(((b[1] << 2) | (b[2] >> 6)) & 63),
            encode6(b[2] & 63),
        ];
        out.extend_from_slice(&chars[..chunk.len() + 1]);
    }
    // Every byte pushed is an ASCII character of the alphabet.
    Zeroizing::new(String::from_utf8(out).expect("base64url is ASCII"))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn matches_the_base64_crate() {
        for len in 0..70usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len * 11) as u8 ^ 0xa5).collect();
            let all: Vec<u8> = (0..=255u8).cycle().skip(len).take(len).collect();
            for b in [bytes, all] {
                let want = URL_SAFE_NO_PAD.encode(&b);
                assert_eq!(*super::encode(&b), want);
                assert_eq!(*super::decode(&want).unwrap(), b);
                let padded = base64::engine::general_purpose::URL_SAFE.encode(&b);
                assert_eq!(*super::decode(&padded).unwrap(), b);
            }
        }
        for bad in ["a", "ab+c", "ab/c", "a b=", "ab\u{e9}", "abcde"] {
            assert!(super::decode(bad).is_err(), "{bad}");
        }
    }
}
