//! Entry points for the fuzz targets in `fuzz/` (and their corpus replay in
//! `tests/fuzz_corpus.rs`): the server-sum round's handling of a peer's bytes, without a
//! session set-up per input. Not part of the supported API.

use super::msgs::Limits;
use super::server_sum::{ClientAwaitRelease, finish};
use super::{Message, PsiError};
use crate::paillier::SecretKey;

/// Server-sum's last round on hostile bytes. The first 8 bytes of `data` set the session
/// (reveal flag, threshold, the client count, the server's smallest and largest value);
/// the rest is the frame, decoded as the server (and, for a reply, the client) decodes
/// it. Whatever decodes goes through the round; the round never panics, and what it
/// accepts is in range.
pub fn server_sum_round(sk: &SecretKey, data: &[u8]) {
    let Some((head, frame)) = data.split_first_chunk::<8>() else {
        return;
    };
    let reveal = head[0] & 1 == 1;
    let threshold = u64::from(head[1] % 8);
    let max_count = u64::from(head[2]);
    let lo = u64::from_be_bytes([0, 0, 0, 0, 0, head[3], head[4], head[5]]);
    let hi = lo.saturating_add(u64::from(u16::from_be_bytes([head[6], head[7]])));
    let Ok(msg) = Message::decode_with(frame, &Limits::NO_LISTS) else {
        return;
    };
    match msg {
        Message::SumRequest(req) => {
            let count = req.count;
            match finish(sk, threshold, max_count, reveal, (lo, hi), req) {
                Ok((reply, out)) => {
                    let sum = out.intersection_sum.unwrap_or(u128::MAX);
                    let c = u128::from(count);
                    assert!(sum >= c * u128::from(lo) && sum <= c * u128::from(hi));
                    assert!(count >= threshold && count <= max_count);
                    assert_eq!(reply.is_some(), reveal);
                    if let Some(r) = reply {
                        let back = ClientAwaitRelease {
                            count: count as usize,
                        }
                        .finish(r)
                        .map(|o| o.intersection_sum);
                        assert!(matches!(back, Ok(Some(s)) if s == sum));
                    }
                }
                Err(PsiError::Malformed(_))
                | Err(PsiError::ThresholdNotMet { .. })
                | Err(PsiError::Paillier(_))
                | Err(PsiError::PeerMisbehaved(_)) => {}
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        Message::SumReply(reply) => {
            let count = usize::from(head[2]);
            if let Ok(out) = (ClientAwaitRelease { count }).finish(reply) {
                let sum = out.intersection_sum.unwrap_or(u128::MAX);
                assert!(sum <= u128::from(u64::MAX) * count as u128);
            }
        }
        _ => {}
    }
}
