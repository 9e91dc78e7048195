//! Joint count, mean, variance and covariance of numeric columns held by n parties, each
//! with private rows.
//!
//! Each party computes, over its own rows, the count, the column sums and the sums of
//! pairwise products, and secret-shares them; the parties add the shares and open only the
//! totals. The totals and the results determine each other (mean = S_a / N, covariance =
//! (S_ab - S_a S_b / N) / (N - 1)), so the opening reveals nothing beyond the results: no
//! party's own sums, rows or row count.

use rand_core::CryptoRng;
use serde::Serialize;

use super::error::MpcError;
use super::party::Party;
use super::share::Shared;
use super::triples::TripleSource;

/// What every party learns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointStats {
    /// Total number of rows.
    pub count: u64,
    /// Column names, in order.
    #[serde(skip)]
    pub columns: Vec<String>,
    /// Mean per column.
    pub mean: Vec<f64>,
    /// Sample variance (n - 1) per column.
    pub variance: Vec<f64>,
    /// Sample covariance matrix, rows and columns in column order.
    pub covariance: Vec<Vec<f64>>,
}

/// This party's local sums, encoded: [count, S_a (c values), S_ab for a <= b].
///
/// # Errors
/// [`MpcError::Encoding`] for non-finite values or sums out of the fixed-point range.
pub fn local_sums(
    rows: &[Vec<f64>],
    columns: usize,
    frac: super::fixed::FractionalBits,
) -> Result<Vec<u64>, MpcError> {
    let mut s = vec![0f64; columns];
    let mut sp = vec![0f64; columns * (columns + 1) / 2];
    for (r, row) in rows.iter().enumerate() {
        if row.len() != columns {
            return Err(MpcError::InvalidInput(format!(
                "row {r} has {} values, expected {columns}",
                row.len()
            )));
        }
        if let Some(x) = row.iter().find(|x| !x.is_finite()) {
            return Err(MpcError::Encoding(format!(
                "row {r}: {x} is not a finite number"
            )));
        }
        let mut k = 0;
        for a in 0..columns {
            s[a] += row[a];
            for b in a..columns {
                sp[k] += row[a] * row[b];
                k += 1;
            }
        }
    }
    let mut out = vec![rows.len() as u64];
    out.extend(frac.encode_all(&s)?);
    out.extend(frac.encode_all(&sp)?);
    Ok(out)
}

/// Runs the joint statistics as one party. Every party must pass the same column names.
///
/// # Errors
/// [`MpcError::InvalidInput`] if the parties' columns differ or there are fewer than 2
/// rows in total; encoding, transport and peer errors as [`Party::open_raw`].
pub fn joint_stats<S: TripleSource, R: CryptoRng + ?Sized>(
    party: &mut Party<S>,
    columns: &[String],
    rows: &[Vec<f64>],
    rng: &mut R,
) -> Result<JointStats, MpcError> {
    let c = columns.len();
    if c == 0 {
        return Err(MpcError::InvalidInput("no columns".into()));
    }
    party.agree(
        format!(
            "stats v1 f={} columns={}",
            party.frac().get(),
            columns.join(",")
        )
        .as_bytes(),
    )?;
    let frac = party.frac();
    let mine = local_sums(rows, c, frac)?;
    let len = mine.len();
    let mut total = Shared::zeros(len, 1);
    for owner in 0..party.parties() {
        let values = (owner == party.index()).then_some(mine.as_slice());
        let s = party.input(owner, values, len, rng)?;
        total = total.add(&s)?;
    }
    let t = party.reveal(&total)?;
    let count = t[0];
    if count < 2 {
        return Err(MpcError::InvalidInput(format!(
            "{count} rows in total: variance needs at least 2"
        )));
    }
    let n = count as f64;
    let sums = frac.decode_all(&t[1..1 + c]);
    let prods = frac.decode_all(&t[1 + c..]);
    let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let mut cov = vec![vec![0f64; c]; c];
    let mut k = 0;
    for a in 0..c {
        for b in a..c {
            let v = (prods[k] - sums[a] * sums[b] / n) / (n - 1.0);
            cov[a][b] = v;
            cov[b][a] = v;
            k += 1;
        }
    }
    let variance = (0..c).map(|a| cov[a][a]).collect();
    Ok(JointStats {
        count,
        columns: columns.to_vec(),
        mean,
        variance,
        covariance: cov,
    })
}
