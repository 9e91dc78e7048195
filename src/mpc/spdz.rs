//! Authenticated (actively secure with abort) mode in the SPDZ2k style.
//!
//! Values live in Z_2^128 (k = 64 bits of data plus s = 64 bits of MAC security). A global
//! MAC key alpha in [0, 2^64) is secret-shared among the parties; every share x_i of a value
//! x comes with a MAC share m_i, and sum(m_i) = alpha x mod 2^128. Linear operations act on
//! values and MACs alike; multiplication uses authenticated Beaver triples; openings are
//! collected and checked in one batch (random linear combination with coefficients from a
//! commit-then-reveal coin, then commit-then-reveal of each party's check value) before any
//! output is revealed. Outputs are opened with a random multiple of 2^64 added, so the upper
//! 64 bits say nothing.
//!
//! # Trust model
//! Any number of parties but one may be malicious (deviate arbitrarily); the dealer must be
//! honest (it knows alpha and every triple) and must not collude with anyone. A cheating
//! party is caught, except with probability about 2^-(s - log2 s) = 2^-58 per check, and
//! the honest parties then stop with [`MpcError::PeerMisbehaved`] naming the failed check.
//! As always with abort, a cheater may see an output before the others abort, and may
//! choose its own inputs freely. A message that does not parse is
//! [`MpcError::Malformed`]; a message about another operation is `PeerMisbehaved`.

use rand_core::{CryptoRng, Rng, SeedableRng};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::dealer::{MAX_WORDS, Seed, SessionId};
use super::error::MpcError;
use super::party::{Mesh, check_frame, frame_with};

/// What the authenticated computation will consume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthRequest {
    /// Authenticated Beaver triples.
    pub triples: usize,
    /// Input masks: (owner, count), in the order inputs are made.
    pub inputs: Vec<(usize, usize)>,
    /// Output masks (one per revealed value).
    pub outputs: usize,
}

impl AuthRequest {
    /// Words of material per party, every product and sum checked, at most
    /// [`MAX_WORDS`].
    fn words(&self) -> Result<usize, MpcError> {
        let overflow = || MpcError::InvalidInput("authenticated request size overflows".into());
        let mut total = self
            .triples
            .checked_mul(6)
            .and_then(|t| t.checked_add(1))
            .ok_or_else(overflow)?;
        for &(_, c) in &self.inputs {
            total = c
                .checked_mul(2)
                .and_then(|w| total.checked_add(w))
                .ok_or_else(overflow)?;
        }
        total = self
            .outputs
            .checked_mul(2)
            .and_then(|w| total.checked_add(w))
            .ok_or_else(overflow)?;
        if total > MAX_WORDS {
            return Err(MpcError::InvalidInput(
                "authenticated request over 2^31 words: split it".into(),
            ));
        }
        Ok(total)
    }

    /// Values of the inputs owned by `party` (bounded by [`AuthRequest::words`]).
    fn own_inputs(&self, party: usize) -> usize {
        self.inputs
            .iter()
            .filter(|&&(o, _)| o == party)
            .map(|&(_, c)| c)
            .fold(0usize, usize::saturating_add)
    }
}

fn expand128(seed: &[u8; 32], session: &SessionId, domain: &[u8], words: usize) -> Vec<u128> {
    let mut key: [u8; 32] = Sha256::new()
        .chain_update(domain)
        .chain_update(session.0)
        .chain_update(seed)
        .finalize()
        .into();
    let mut rng = chacha20::ChaCha20Rng::from_seed(key);
    key.zeroize();
    (0..words)
        .map(|_| (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))
        .collect()
}

/// Party 0's words of authenticated material.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AuthCorrections(pub Vec<u128>);

impl core::fmt::Debug for AuthCorrections {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AuthCorrections(<redacted>)")
    }
}

/// The dealer's output for an authenticated request.
#[derive(Debug)]
pub struct AuthDealt {
    /// Party 0's shares, and the clear input masks of its own inputs.
    pub corrections: AuthCorrections,
    /// Seeds of parties 1..n-1 (their shares and the clear masks of their inputs).
    pub seeds: Vec<Seed>,
}

/// Deals authenticated material for `parties` parties in `session` (mixed into every
/// seed's stream: use a fresh one per deal).
///
/// # Errors
/// [`MpcError::InvalidInput`] for fewer than 2 parties, an input owner out of range or a
/// request whose size overflows.
pub fn deal<R: CryptoRng + ?Sized>(
    parties: usize,
    session: &SessionId,
    req: &AuthRequest,
    rng: &mut R,
) -> Result<AuthDealt, MpcError> {
    if parties < 2 || req.inputs.iter().any(|&(o, _)| o >= parties) {
        return Err(MpcError::InvalidInput(
            "need 2+ parties and input owners among them".into(),
        ));
    }
    let words = req.words()?;
    let mut seeds = Vec::new();
    let mut sum = vec![0u128; words];
    let mut clear_of: Vec<Vec<u128>> = vec![Vec::new(); parties];
    #[allow(clippy::needless_range_loop)] // j names the party whose seed this is
    for j in 1..parties {
        let mut s = [0u8; 32];
        rng.fill_bytes(&mut s);
        let stream = expand128(&s, session, b"shroud-spdz-shares", words);
        for (a, b) in sum.iter_mut().zip(&stream) {
            *a = a.wrapping_add(*b);
        }
        clear_of[j] = expand128(&s, session, b"shroud-spdz-clear", req.own_inputs(j));
        seeds.push(Seed(s));
        s.zeroize();
    }
    let r128 = |rng: &mut R| (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    let alpha = u128::from(rng.next_u64());
    let mut truth = Vec::with_capacity(words);
    truth.push(alpha);
    let t = req.triples;
    let a: Vec<u128> = (0..t).map(|_| r128(rng)).collect();
    let b: Vec<u128> = (0..t).map(|_| r128(rng)).collect();
    let c: Vec<u128> = a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect();
    let mac = |v: &[u128]| v.iter().map(|x| x.wrapping_mul(alpha)).collect::<Vec<_>>();
    let (ma, mb, mc) = (mac(&a), mac(&b), mac(&c));
    for v in [a, b, c, ma, mb, mc] {
        truth.extend(v);
    }
    let mut cursor = vec![0usize; parties];
    let mut clear0: Vec<u128> = Vec::new();
    for &(owner, count) in &req.inputs {
        let r: Vec<u128> = if owner == 0 {
            let r: Vec<u128> = (0..count).map(|_| r128(rng)).collect();
            clear0.extend(&r);
            r
        } else {
            let r = clear_of[owner][cursor[owner]..cursor[owner] + count].to_vec();
            cursor[owner] += count;
            r
        };
        let m = mac(&r);
        truth.extend(r);
        truth.extend(m);
    }
    let rho: Vec<u128> = (0..req.outputs).map(|_| r128(rng)).collect();
    let mrho = mac(&rho);
    truth.extend(rho);
    truth.extend(mrho);
    let mut corrections: Vec<u128> = truth
        .iter()
        .zip(&sum)
        .map(|(t, s)| t.wrapping_sub(*s))
        .collect();
    corrections.extend(clear0);
    truth.zeroize();
    Ok(AuthDealt {
        corrections: AuthCorrections(corrections),
        seeds,
    })
}

/// A party's authenticated share of a vector: values and MAC shares.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AuthShared {
    pub(crate) x: Vec<u128>,
    pub(crate) m: Vec<u128>,
}

impl core::fmt::Debug for AuthShared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AuthShared({}, <redacted>)", self.x.len())
    }
}

impl AuthShared {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// x + y (values and MACs).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for different lengths.
    pub fn add(&self, o: &AuthShared) -> Result<AuthShared, MpcError> {
        if o.len() != self.len() {
            return Err(MpcError::InvalidInput("lengths differ".into()));
        }
        Ok(AuthShared {
            x: self
                .x
                .iter()
                .zip(&o.x)
                .map(|(a, b)| a.wrapping_add(*b))
                .collect(),
            m: self
                .m
                .iter()
                .zip(&o.m)
                .map(|(a, b)| a.wrapping_add(*b))
                .collect(),
        })
    }

    /// k x for a public k.
    pub fn mul_public(&self, k: u64) -> AuthShared {
        let k = u128::from(k);
        AuthShared {
            x: self.x.iter().map(|a| a.wrapping_mul(k)).collect(),
            m: self.m.iter().map(|a| a.wrapping_mul(k)).collect(),
        }
    }
}

/// One party's authenticated material.
pub struct AuthMaterial {
    session: SessionId,
    /// The six triple components (a, b, c and their MACs), consumed from the back.
    trip: [Vec<u128>; 6],
    words: Vec<u128>,
    clear: Vec<u128>,
    req: AuthRequest,
    me: usize,
    triple: usize,
    input: usize,
    clear_used: usize,
    output: usize,
}

impl Drop for AuthMaterial {
    fn drop(&mut self) {
        self.words.zeroize();
        self.clear.zeroize();
        for t in &mut self.trip {
            t.zeroize();
        }
    }
}

impl AuthMaterial {
    /// Party 0's material for `session`.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] if the words do not fit the request.
    pub fn from_corrections(
        req: AuthRequest,
        session: &SessionId,
        c: AuthCorrections,
    ) -> Result<Self, MpcError> {
        let n = req.words()?;
        let own = req.own_inputs(0);
        if n.checked_add(own) != Some(c.0.len()) {
            return Err(MpcError::InvalidInput(
                "correction words do not fit the request".into(),
            ));
        }
        let words = c.0[..n].to_vec();
        let clear = c.0[n..].to_vec();
        Ok(Self::assemble(words, clear, req, 0, session))
    }

    /// The material of party `me` for `session`, from its seed. Party 0 receives
    /// corrections, not a seed ([`AuthMaterial::from_corrections`]).
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] for `me = 0` or an oversized request.
    pub fn from_seed(
        req: AuthRequest,
        session: &SessionId,
        me: usize,
        seed: &Seed,
    ) -> Result<Self, MpcError> {
        if me == 0 {
            return Err(MpcError::InvalidInput(
                "party 0's material comes from corrections, not a seed".into(),
            ));
        }
        let words = expand128(&seed.0, session, b"shroud-spdz-shares", req.words()?);
        let clear = expand128(&seed.0, session, b"shroud-spdz-clear", req.own_inputs(me));
        Ok(Self::assemble(words, clear, req, me, session))
    }

    /// `words` has exactly `req.words()` entries (checked by both constructors).
    fn assemble(
        words: Vec<u128>,
        clear: Vec<u128>,
        req: AuthRequest,
        me: usize,
        session: &SessionId,
    ) -> Self {
        let t = req.triples;
        let trip = core::array::from_fn(|k| words[1 + k * t..1 + (k + 1) * t].to_vec());
        Self {
            session: *session,
            trip,
            words,
            clear,
            req,
            me,
            triple: 0,
            input: 0,
            clear_used: 0,
            output: 0,
        }
    }

    /// The index of the party this material was dealt to.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The session this material was dealt for.
    pub fn session(&self) -> SessionId {
        self.session
    }

    fn alpha(&self) -> u128 {
        self.words[0]
    }

    fn triples(&mut self, count: usize) -> Result<[Vec<u128>; 6], MpcError> {
        let t = self.req.triples;
        if count > t - self.triple {
            return Err(MpcError::Exhausted(format!(
                "{count} authenticated triples wanted, {} left",
                t - self.triple
            )));
        }
        let s = 1 + self.triple;
        self.triple += count;
        Ok(core::array::from_fn(|k| {
            self.words[s + k * t..s + k * t + count].to_vec()
        }))
    }

    fn input_mask(
        &mut self,
        owner: usize,
        count: usize,
    ) -> Result<(AuthShared, Option<Vec<u128>>), MpcError> {
        let Some(&(o, c)) = self.req.inputs.get(self.input) else {
            return Err(MpcError::Exhausted("no input masks left".into()));
        };
        if (o, c) != (owner, count) {
            return Err(MpcError::InvalidInput(format!(
                "next input mask is for party {o} ({c} values)"
            )));
        }
        // The request's size was checked when the material was made, so these sums fit
        // and the ranges lie inside `words`; `get` keeps a slip an error, not a panic.
        let mut base = 1 + 6 * self.req.triples;
        for &(_, c) in &self.req.inputs[..self.input] {
            base += 2 * c;
        }
        let short = || MpcError::InvalidInput("input masks outside the material".into());
        let x = self
            .words
            .get(base..base + count)
            .ok_or_else(short)?
            .to_vec();
        let m = self
            .words
            .get(base + count..base + 2 * count)
            .ok_or_else(short)?
            .to_vec();
        let clear = if owner == self.me {
            let v = self
                .clear
                .get(self.clear_used..self.clear_used + count)
                .ok_or_else(short)?
                .to_vec();
            self.clear_used += count;
            Some(v)
        } else {
            None
        };
        self.input += 1;
        Ok((AuthShared { x, m }, clear))
    }

    fn output_masks(&mut self, count: usize) -> Result<AuthShared, MpcError> {
        let o = self.req.outputs;
        if count > o - self.output {
            return Err(MpcError::Exhausted("no output masks left".into()));
        }
        let base = self.words.len() - 2 * o + self.output;
        self.output += count;
        Ok(AuthShared {
            x: self.words[base..base + count].to_vec(),
            m: self.words[base + o..base + o + count].to_vec(),
        })
    }
}

fn enc128(tag: u64, vals: &[u128]) -> Vec<u8> {
    frame_with(tag, vals.len(), 16, |body| {
        for (c, v) in body.chunks_exact_mut(16).zip(vals) {
            c.copy_from_slice(&v.to_le_bytes());
        }
    })
}

fn dec128(party: usize, tag: u64, want: usize, f: &[u8]) -> Result<Vec<u128>, MpcError> {
    Ok(check_frame(party, tag, want, 16, f)?
        .chunks_exact(16)
        .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes")))
        .collect())
}

/// A party of the authenticated computation.
pub struct AuthParty {
    mesh: Mesh,
    mat: AuthMaterial,
    op: u64,
    /// Opened values and this party's MAC shares of them, awaiting the batched check.
    pending: Vec<(u128, u128)>,
}

impl core::fmt::Debug for AuthParty {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "AuthParty({}, {} openings unchecked)",
            self.mesh.me(),
            self.pending.len()
        )
    }
}

impl AuthParty {
    /// A party over `mesh` with its material.
    ///
    /// # Errors
    /// [`MpcError::InvalidInput`] when the material was dealt to another party index than
    /// the mesh's, or names an input owner outside the mesh.
    pub fn new(mesh: Mesh, mat: AuthMaterial) -> Result<Self, MpcError> {
        if mat.me != mesh.me() {
            return Err(MpcError::InvalidInput(format!(
                "the material was dealt to party {}, but this is party {} of the mesh",
                mat.me,
                mesh.me()
            )));
        }
        if let Some(&(o, _)) = mat.req.inputs.iter().find(|&&(o, _)| o >= mesh.parties()) {
            return Err(MpcError::InvalidInput(format!(
                "the material has inputs of party {o}, but the mesh has {} parties",
                mesh.parties()
            )));
        }
        Ok(Self {
            mesh,
            mat,
            op: 0,
            pending: Vec::new(),
        })
    }

    /// This party's index.
    pub fn index(&self) -> usize {
        self.mesh.me()
    }

    fn exchange(&mut self, vals: &[u128]) -> Result<Vec<Vec<u128>>, MpcError> {
        let tag = self.op;
        self.op += 1;
        let frame = enc128(tag, vals);
        let len = frame.len();
        let frames = self.mesh.exchange_all_limited(frame, len)?;
        frames
            .iter()
            .enumerate()
            .map(|(j, f)| {
                if j == self.mesh.me() {
                    Ok(vals.to_vec())
                } else {
                    dec128(j, tag, vals.len(), f)
                }
            })
            .collect()
    }

    fn open_unchecked(&mut self, x: &[u128], m: &[u128]) -> Result<Vec<u128>, MpcError> {
        let all = self.exchange(x)?;
        let mut out = vec![0u128; x.len()];
        for v in &all {
            for (o, a) in out.iter_mut().zip(v) {
                *o = o.wrapping_add(*a);
            }
        }
        self.pending
            .extend(out.iter().copied().zip(m.iter().copied()));
        Ok(out)
    }

    /// Authenticated input of `owner`'s values (`Some` at the owner): the owner announces
    /// x - r for a dealer mask r that only it knows.
    ///
    /// # Errors
    /// Material, transport and message errors.
    pub fn input(
        &mut self,
        owner: usize,
        values: Option<&[u64]>,
        len: usize,
    ) -> Result<AuthShared, MpcError> {
        let (mask, clear) = self.mat.input_mask(owner, len)?;
        let me = self.mesh.me();
        let tag = self.op;
        self.op += 1;
        let e: Vec<u128> = match (clear, values) {
            (Some(r), Some(v)) if v.len() == len => {
                let e: Vec<u128> = v
                    .iter()
                    .zip(&r)
                    .map(|(x, r)| u128::from(*x).wrapping_sub(*r))
                    .collect();
                // The others send empty frames.
                let frame = enc128(tag, &e);
                let len = frame.len();
                self.mesh.exchange_all_limited(frame, len)?;
                e
            }
            (None, None) => {
                // The owner's frame: a 12-byte header and 16 bytes a value.
                let max_in = len.saturating_mul(16).saturating_add(12);
                let frames = self.mesh.exchange_all_limited(enc128(tag, &[]), max_in)?;
                let frame = frames.get(owner).ok_or_else(|| {
                    MpcError::InvalidInput(format!("input owner {owner} is not in the mesh"))
                })?;
                dec128(owner, tag, len, frame)?
            }
            _ => {
                return Err(MpcError::InvalidInput(
                    "only the owner passes its values, of the announced length".into(),
                ));
            }
        };
        self.add_public_masked(mask, &e, me)
    }

    fn add_public_masked(
        &self,
        s: AuthShared,
        c: &[u128],
        me: usize,
    ) -> Result<AuthShared, MpcError> {
        let alpha = self.mat.alpha();
        Ok(AuthShared {
            x: s.x
                .iter()
                .zip(c)
                .map(|(x, c)| if me == 0 { x.wrapping_add(*c) } else { *x })
                .collect(),
            m: s.m
                .iter()
                .zip(c)
                .map(|(m, c)| m.wrapping_add(alpha.wrapping_mul(*c)))
                .collect(),
        })
    }

    /// x * y with authenticated Beaver triples.
    ///
    /// # Errors
    /// Length mismatch, exhausted triples, transport and message errors.
    pub fn mul(&mut self, x: &AuthShared, y: &AuthShared) -> Result<AuthShared, MpcError> {
        if y.len() != x.len() {
            return Err(MpcError::InvalidInput("lengths differ".into()));
        }
        let mut z = AuthShared {
            x: Vec::with_capacity(x.len()),
            m: Vec::with_capacity(x.len()),
        };
        let mut start = 0;
        while start < x.len() {
            let end = (start + super::party::CHUNK).min(x.len());
            let xs = AuthShared {
                x: x.x[start..end].to_vec(),
                m: x.m[start..end].to_vec(),
            };
            let ys = AuthShared {
                x: y.x[start..end].to_vec(),
                m: y.m[start..end].to_vec(),
            };
            let part = self.mul_chunk(&xs, &ys)?;
            z.x.extend_from_slice(&part.x);
            z.m.extend_from_slice(&part.m);
            start = end;
        }
        Ok(z)
    }

    fn mul_chunk(&mut self, x: &AuthShared, y: &AuthShared) -> Result<AuthShared, MpcError> {
        let n = x.len();
        let [a, b, c, ma, mb, mc] = self.mat.triples(n)?;
        let mut vals = Vec::with_capacity(2 * n);
        let mut macs = Vec::with_capacity(2 * n);
        for i in 0..n {
            vals.push(x.x[i].wrapping_sub(a[i]));
            macs.push(x.m[i].wrapping_sub(ma[i]));
        }
        for i in 0..n {
            vals.push(y.x[i].wrapping_sub(b[i]));
            macs.push(y.m[i].wrapping_sub(mb[i]));
        }
        let opened = self.open_unchecked(&vals, &macs)?;
        let (d, e) = opened.split_at(n);
        let p0 = u128::from(self.mesh.me() == 0);
        let alpha = self.mat.alpha();
        let mut z = AuthShared {
            x: Vec::with_capacity(n),
            m: Vec::with_capacity(n),
        };
        for i in 0..n {
            let de = d[i].wrapping_mul(e[i]);
            z.x.push(
                c[i].wrapping_add(d[i].wrapping_mul(b[i]))
                    .wrapping_add(e[i].wrapping_mul(a[i]))
                    .wrapping_add(p0 * de),
            );
            z.m.push(
                mc[i]
                    .wrapping_add(d[i].wrapping_mul(mb[i]))
                    .wrapping_add(e[i].wrapping_mul(ma[i]))
                    .wrapping_add(alpha.wrapping_mul(de)),
            );
        }
        Ok(z)
    }

    /// Commit-then-reveal of 32 bytes from every party; returns all, verified.
    fn commit_reveal(&mut self, what: &str, payload: &[u8; 32]) -> Result<Vec<[u8; 32]>, MpcError> {
        let mut nonce = [0u8; 32];
        crate::rng::os_rng().fill_bytes(&mut nonce);
        let me = self.mesh.me() as u64;
        let commit = |p: &[u8; 32], n: &[u8; 32], who: u64| -> [u8; 32] {
            Sha256::new()
                .chain_update(b"shroud-spdz-commit")
                .chain_update(who.to_be_bytes())
                .chain_update(p)
                .chain_update(n)
                .finalize()
                .into()
        };
        let c = commit(payload, &nonce, me);
        let words = |b: &[u8; 32]| -> Vec<u128> {
            b.chunks_exact(16)
                .map(|c| u128::from_le_bytes(c.try_into().expect("16")))
                .collect()
        };
        let commits = self.exchange(&words(&c))?;
        let mut open = words(payload);
        open.extend(words(&nonce));
        let opens = self.exchange(&open)?;
        let bytes = |ws: &[u128]| -> Vec<u8> { ws.iter().flat_map(|w| w.to_le_bytes()).collect() };
        let mut out = Vec::new();
        for (j, (cm, op)) in commits.iter().zip(&opens).enumerate() {
            let ob = bytes(op);
            let (p, n): ([u8; 32], [u8; 32]) = (
                ob[..32].try_into().expect("32"),
                ob[32..].try_into().expect("32"),
            );
            if bytes(cm) != commit(&p, &n, j as u64) {
                return Err(MpcError::PeerMisbehaved(format!(
                    "party {j}'s {what} does not match its commitment"
                )));
            }
            out.push(p);
        }
        Ok(out)
    }

    /// The batched MAC check of every opening so far.
    ///
    /// # Errors
    /// [`MpcError::PeerMisbehaved`] if a commitment or the MAC check fails.
    pub fn check(&mut self) -> Result<(), MpcError> {
        let mut seed = [0u8; 32];
        crate::rng::os_rng().fill_bytes(&mut seed);
        let seeds = self.commit_reveal("coin share", &seed)?;
        let mut h = Sha256::new().chain_update(b"shroud-spdz-coin");
        for s in &seeds {
            h.update(s);
        }
        let mut coin = chacha20::ChaCha20Rng::from_seed(h.finalize().into());
        let alpha = self.mat.alpha();
        let (mut y, mut zm) = (0u128, 0u128);
        for &(x, m) in &self.pending {
            let chi = u128::from(coin.next_u64());
            y = y.wrapping_add(chi.wrapping_mul(x));
            zm = zm.wrapping_add(chi.wrapping_mul(m));
        }
        let z = zm.wrapping_sub(alpha.wrapping_mul(y));
        let mut payload = [0u8; 32];
        payload[..16].copy_from_slice(&z.to_le_bytes());
        let zs = self.commit_reveal("MAC check value", &payload)?;
        let total = zs.iter().fold(0u128, |acc, p| {
            acc.wrapping_add(u128::from_le_bytes(p[..16].try_into().expect("16")))
        });
        let n = self.pending.len();
        self.pending.clear();
        if total != 0 {
            return Err(MpcError::PeerMisbehaved(format!(
                "MAC check failed on a batch of {n} openings: a share, a MAC or an opened value was altered"
            )));
        }
        Ok(())
    }

    /// Checks every opening so far, then opens `x` (masked in its upper 64 bits), checks
    /// that opening too and returns the values mod 2^64.
    ///
    /// # Errors
    /// [`MpcError::PeerMisbehaved`] if any check fails; material and transport errors.
    pub fn reveal(&mut self, x: &AuthShared) -> Result<Vec<u64>, MpcError> {
        self.check()?;
        let rho = self.mat.output_masks(x.len())?;
        let shift = 1u128 << 64;
        let vals: Vec<u128> =
            x.x.iter()
                .zip(&rho.x)
                .map(|(a, r)| a.wrapping_add(r.wrapping_mul(shift)))
                .collect();
        let macs: Vec<u128> =
            x.m.iter()
                .zip(&rho.m)
                .map(|(a, r)| a.wrapping_add(r.wrapping_mul(shift)))
                .collect();
        let opened = self.open_unchecked(&vals, &macs)?;
        self.check()?;
        Ok(opened.iter().map(|v| *v as u64).collect())
    }
}
