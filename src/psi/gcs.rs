//! A Golomb-Rice compressed set of hashed tags (the compressed form of the server's set).
//!
//! Each of the N server tags is mapped to an integer in [0, N * 2^p); the sorted integers'
//! gaps are Rice-coded with parameter p (unary quotient, then p low bits). A client tag that
//! is not in the set collides with one that is with probability at most 2^-p (one value of
//! the range in 2^p per member, union bound over N members), so for M client queries the
//! chance of any false positive is at most M * 2^-p. [`Gcs::parameter_for`] picks
//! p = 30 + ceil(log2 M), making that at most 2^-30. The cost is about p + 1.6 bits per
//! element (against 8 * tag bytes for the raw set).
//!
//! All values here are hashes of OPRF outputs that the receiver is allowed to see; the
//! code is variable time.

use super::error::PsiError;

/// The false-positive bound of the compressed set, as a power of two: 2^-30 for the whole
/// query.
pub const FALSE_POSITIVE_BITS: u32 = 30;

/// A decoded or built Golomb-Rice set: sorted values in [0, n * 2^p).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcs {
    /// Rice parameter p.
    pub p: u32,
    /// Number of members.
    pub n: u64,
    /// The sorted hashed values.
    pub values: Vec<u128>,
}

/// ceil(log2(x)) for x >= 1.
pub(crate) fn ceil_log2(x: u64) -> u32 {
    if x <= 1 {
        0
    } else {
        64 - (x - 1).leading_zeros()
    }
}

impl Gcs {
    /// The Rice parameter that bounds the total false-positive probability of `queries`
    /// lookups by 2^-30.
    pub fn parameter_for(queries: u64) -> u32 {
        FALSE_POSITIVE_BITS + ceil_log2(queries.max(1))
    }

    /// Maps a 64-byte OPRF-derived hash to [0, n * 2^p): a uniform index in [0, n) (bias at
    /// most n / 2^64) times 2^p, plus p uniform low bits.
    pub fn map(hash: &[u8; 64], n: u64, p: u32) -> u128 {
        let hi = u64::from_le_bytes(hash[0..8].try_into().expect("8 bytes"));
        let lo = u64::from_le_bytes(hash[8..16].try_into().expect("8 bytes"));
        let bucket = if n == 0 { 0 } else { hi % n };
        let low = if p >= 64 {
            lo as u128
        } else {
            (lo & ((1u64 << p) - 1)) as u128
        };
        ((bucket as u128) << p) | low
    }

    /// Builds the set from already mapped values (sorted here).
    pub fn from_values(mut values: Vec<u128>, p: u32) -> Self {
        values.sort_unstable();
        Self {
            p,
            n: values.len() as u64,
            values,
        }
    }

    /// Rice-codes the sorted values.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = BitWriter::default();
        let mut prev = 0u128;
        for &v in &self.values {
            let d = v - prev;
            prev = v;
            let q = d >> self.p;
            for _ in 0..q {
                w.push(true);
            }
            w.push(false);
            w.push_bits(d, self.p);
        }
        w.finish()
    }

    /// Decodes `n` values with parameter `p` from `bytes`, rejecting anything that does not
    /// decode to exactly `n` values in range.
    ///
    /// # Errors
    /// [`PsiError::Malformed`] on a truncated stream, a value out of range, trailing data or
    /// an out-of-range parameter.
    pub fn decode(bytes: &[u8], n: u64, p: u32) -> Result<Self, PsiError> {
        if !(1..=64).contains(&p) {
            return Err(PsiError::Malformed(format!(
                "compressed set parameter {p} out of 1..=64"
            )));
        }
        // Every member costs at least p + 1 bits.
        let max_members = (bytes.len() as u128 * 8) / (p as u128 + 1);
        if n as u128 > max_members {
            return Err(PsiError::Malformed(format!(
                "compressed set claims {n} members in {} bytes",
                bytes.len()
            )));
        }
        let limit = (n as u128) << p;
        let mut r = BitReader { bytes, pos: 0 };
        let mut values = Vec::with_capacity(n as usize);
        let mut prev = 0u128;
        for _ in 0..n {
            let mut q = 0u128;
            loop {
                match r.bit() {
                    Some(true) => q += 1,
                    Some(false) => break,
                    None => return Err(PsiError::Malformed("compressed set is truncated".into())),
                }
                if q > limit >> p {
                    return Err(PsiError::Malformed(
                        "compressed set value out of range".into(),
                    ));
                }
            }
            let low = r
                .bits(p)
                .ok_or_else(|| PsiError::Malformed("compressed set is truncated".into()))?;
            let v = prev + ((q << p) | low);
            if v >= limit {
                return Err(PsiError::Malformed(
                    "compressed set value out of range".into(),
                ));
            }
            values.push(v);
            prev = v;
        }
        // Only zero padding may remain, and less than a byte of it.
        if bytes.len() * 8 - r.pos >= 8 || r.rest_nonzero() {
            return Err(PsiError::Malformed(
                "trailing data after the compressed set".into(),
            ));
        }
        Ok(Self { p, n, values })
    }

    /// Whether `v` is a member (binary search).
    pub fn contains_vartime(&self, v: u128) -> bool {
        self.values.binary_search(&v).is_ok()
    }

    /// Index of `v` among the sorted members, if present.
    pub fn position_vartime(&self, v: u128) -> Option<usize> {
        self.values.binary_search(&v).ok()
    }
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    used: u32,
}

impl BitWriter {
    fn push(&mut self, bit: bool) {
        self.acc |= (bit as u8) << (7 - self.used);
        self.used += 1;
        if self.used == 8 {
            self.out.push(self.acc);
            self.acc = 0;
            self.used = 0;
        }
    }

    fn push_bits(&mut self, v: u128, n: u32) {
        for i in (0..n).rev() {
            self.push((v >> i) & 1 == 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc);
        }
        self.out
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let b = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(b)
    }

    fn bits(&mut self, n: u32) -> Option<u128> {
        let mut v = 0u128;
        for _ in 0..n {
            v = (v << 1) | self.bit()? as u128;
        }
        Some(v)
    }

    fn rest_nonzero(&self) -> bool {
        let mut p = self.pos;
        while p < self.bytes.len() * 8 {
            if (self.bytes[p / 8] >> (7 - (p % 8))) & 1 == 1 {
                return true;
            }
            p += 1;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_size() {
        let n = 10_000u64;
        let p = Gcs::parameter_for(10_000);
        let mut rng = crate::rng::seeded(7);
        let vals: Vec<u128> = (0..n)
            .map(|_| {
                let mut h = [0u8; 64];
                rand_core::Rng::fill_bytes(&mut rng, &mut h);
                Gcs::map(&h, n, p)
            })
            .collect();
        let g = Gcs::from_values(vals.clone(), p);
        let bytes = g.encode();
        let bits_per = bytes.len() as f64 * 8.0 / n as f64;
        assert!(
            bits_per < p as f64 + 2.2,
            "{bits_per} bits per element, p = {p}"
        );
        let back = Gcs::decode(&bytes, n, p).unwrap();
        assert_eq!(back, g);
        for v in vals {
            assert!(back.contains_vartime(v));
        }
        // Truncation, extension and a wrong count are refused.
        assert!(Gcs::decode(&bytes[..bytes.len() - 1], n, p).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Gcs::decode(&longer, n, p).is_err());
        assert!(Gcs::decode(&bytes, n + 1, p).is_err());
        assert!(Gcs::decode(&bytes, n, 0).is_err());
    }

    #[test]
    fn hostile_unary_run_is_refused() {
        // All ones: an endless quotient must fail fast, not loop or overflow.
        let bytes = vec![0xffu8; 1000];
        assert!(Gcs::decode(&bytes, 3, 40).is_err());
    }
}
