//! Federated learning over the network: a coordinator process and one process per
//! participant, on the authenticated channel layer ([`crate::net`]).
//!
//! A participant's id is the name its pinned key has in the coordinator's peers file
//! (`client-2` is participant 2), as in [`crate::secagg::driver`]; the coordinator is
//! pinned as `server`. After the handshake the coordinator sends the [`Setup`] and each
//! participant answers with its record count. Each round the coordinator sends the
//! global parameters to the selected participants (and `skip` to the others); they train
//! and answer with a plaintext update, or in secure mode with `ready`, after which the
//! ready ones run a secure-aggregation session on the same connections. Every receive
//! has the channel's timeout: a participant that is silent, disconnects or sends anything
//! malformed is a dropout and the round goes on without it.
//!
//! The coordinator checkpoints after every round and a restarted one resumes from the
//! checkpoint. A participant keeps its own state file: its spending, and its answer to
//! the last round, so that when a resumed coordinator asks for that round again it
//! resends the same answer, trains nothing and charges nothing.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::coordinator::{Aggregation, Checkpoint, Coordinator, RoundLog};
use super::ddg::{DdgPlan, ParticipantLevelDp};
use super::error::FlError;
use super::local::accuracy_on;
use super::msgs::{self, FromParticipant, Setup, ToParticipant};
use super::participant::{
    Accounting, LedgerAccount, Participant, RecordLevelDp, RecordLevelPlan, Response,
};
use super::robust::l2_norm;
use super::secure::{
    SecureConfig, mean_from_sum, quantization_bound, quantize_update, session_params,
};
use crate::data::Dataset;
use crate::dp::calibrate::Accountant;
use crate::dp::{Delta, SamplingRate};
use crate::net::{self, ChannelOptions, Security};
use crate::secagg::driver::{Conn, accept_clients, client_name, run_client_checked, run_server};
use crate::secagg::{ClientId, Message};
use crate::train::dpsgd::{ClipNorm, TrainConfig};
use crate::train::network::Network;

/// Frame limit before the setup is known.
const SETUP_FRAME: usize = 1 << 20;

/// What a coordinator run ended with.
#[derive(Debug)]
pub struct ServeReport {
    /// Every round, including those before a resume.
    pub rounds: Vec<RoundLog>,
    /// Participants lost along the way and why.
    pub events: Vec<String>,
}

fn net_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Sends each connection its frame and, for those in `expect`, receives the answer, all
/// at once (one thread each). Failed connections are removed and reported.
fn exchange(
    conns: &mut BTreeMap<ClientId, Conn>,
    out: BTreeMap<ClientId, Vec<u8>>,
    expect: &[ClientId],
    events: &mut Vec<String>,
) -> BTreeMap<ClientId, FromParticipant> {
    type Answer = (ClientId, Result<Option<Vec<u8>>, String>);
    let results: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .filter_map(|(&u, t)| {
                let frame = out.get(&u)?.clone();
                let wait = expect.contains(&u);
                Some(s.spawn(move || {
                    let r = t.send(&frame).map_err(net_err).and_then(|()| {
                        if wait {
                            t.recv().map(Some).map_err(net_err)
                        } else {
                            Ok(None)
                        }
                    });
                    (u, r)
                }))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut got = BTreeMap::new();
    for (u, r) in results {
        match r.and_then(|f| f.map(|f| msgs::decode::<FromParticipant>(&f)).transpose()) {
            Ok(Some(m)) => {
                got.insert(u, m);
            }
            Ok(None) => {}
            Err(e) => {
                events.push(format!("participant {u} dropped: {e}"));
                conns.remove(&u);
            }
        }
    }
    got
}

fn drop_participant(
    conns: &mut BTreeMap<ClientId, Conn>,
    u: ClientId,
    why: String,
    events: &mut Vec<String>,
) {
    events.push(format!("participant {u} dropped: {why}"));
    if let Some(mut t) = conns.remove(&u) {
        let _ = t.send(&msgs::encode(&ToParticipant::Abort { reason: why }));
    }
}

/// Runs the coordinator: accepts up to `n` participants on `listener`, sends `setup`,
/// and runs the coordinator's remaining rounds. With `checkpoint`, resumes from the file
/// if it exists (same run id) and rewrites it after every round.
///
/// # Errors
/// [`FlError::TooFewParticipants`] if nobody connects; [`FlError::InvalidConfig`] for a
/// checkpoint of another run; the errors of aggregation.
#[allow(clippy::too_many_arguments)]
pub fn serve<R: CryptoRng + ?Sized>(
    listener: &TcpListener,
    security: &Security,
    opts: &ChannelOptions,
    n: u32,
    coord: &mut Coordinator,
    setup: &Setup,
    validation: Option<&Dataset>,
    checkpoint: Option<&Path>,
    rng: &mut R,
) -> Result<ServeReport, FlError> {
    let mut events = Vec::new();
    let mut log = Vec::new();
    if let Some(path) = checkpoint
        && let Some(c) = Checkpoint::load(path)?
    {
        if c.run_id != setup.run_id {
            return Err(FlError::InvalidConfig(format!(
                "checkpoint {} belongs to run {}, not {}",
                path.display(),
                c.run_id,
                setup.run_id
            )));
        }
        coord.resume(&c)?;
        log = c.log;
        events.push(format!("resumed after round {}", c.round));
    }
    let d = coord.global().n_params();
    let ddg = ddg_plan(setup, d)?;
    let frame = msgs::max_frame(d, setup.feature_names.iter().map(String::len).sum());
    let mut conns = accept_clients(listener, security, opts, n, &mut events);
    for t in conns.values_mut() {
        t.set_max_frame(frame);
    }
    let hello = msgs::encode(&ToParticipant::Setup(Box::new(setup.clone())));
    let all: Vec<ClientId> = conns.keys().copied().collect();
    let out = all.iter().map(|&u| (u, hello.clone())).collect();
    let mut records = BTreeMap::new();
    for (u, m) in exchange(&mut conns, out, &all, &mut events) {
        match m {
            FromParticipant::Hello { records: r } if r > 0 && r < 1 << 40 => {
                records.insert(u, r as usize);
            }
            other => drop_participant(
                &mut conns,
                u,
                format!("expected hello, got {}", msg_kind(&other)),
                &mut events,
            ),
        }
    }
    if conns.is_empty() {
        return Err(FlError::TooFewParticipants {
            round: coord.round() + 1,
            joined: 0,
            needed: 1,
        });
    }
    let cfg = *coord.config();
    while !coord.done() {
        let round = coord.round() + 1;
        let registered: Vec<(u32, usize)> = conns.keys().map(|&u| (u, records[&u])).collect();
        let max_records = registered.iter().map(|r| r.1).max().unwrap_or(1) as f64;
        let selected = coord.select(&registered);
        let train = msgs::encode(&ToParticipant::Train {
            round,
            params: coord.global().params(),
            max_records,
        });
        let skip = msgs::encode(&ToParticipant::Skip { round });
        let out = conns
            .keys()
            .map(|&u| {
                (
                    u,
                    if selected.contains(&u) {
                        train.clone()
                    } else {
                        skip.clone()
                    },
                )
            })
            .collect();
        let before: Vec<ClientId> = selected.clone();
        let answers = exchange(&mut conns, out, &selected, &mut events);
        let mut dropped: Vec<u32> = before
            .iter()
            .copied()
            .filter(|u| !conns.contains_key(u))
            .collect();
        let mut declined = Vec::new();
        let mut updates = Vec::new();
        let mut ready = Vec::new();
        let secure = matches!(cfg.aggregation, Aggregation::Secure(_));
        // An honest participant bounds its update; a plaintext one above the bound (with
        // float slack) is refused rather than averaged.
        let bound = cfg.update_clip.map(|c| c * (1.0 + 1e-9));
        for (u, m) in answers {
            let refuse = match m {
                FromParticipant::Declined { round: r, reason } if r == round => {
                    declined.push((u, clip_text(&reason)));
                    None
                }
                FromParticipant::Update { round: r, delta }
                    if !secure
                        && r == round
                        && delta.len() == d
                        && delta.iter().all(|x| x.is_finite())
                        && bound.is_none_or(|b| l2_norm(&delta) <= b) =>
                {
                    updates.push((u, delta, records[&u] as f64));
                    None
                }
                FromParticipant::Ready { round: r } if secure && r == round => {
                    ready.push(u);
                    None
                }
                FromParticipant::Update { .. } => Some(
                    "an update that is malformed, over the norm bound, for another round, or in plaintext in a secure run",
                ),
                FromParticipant::Ready { .. } => {
                    Some("ready for another round, or in a plaintext run")
                }
                FromParticipant::Declined { .. } => Some("declined another round"),
                FromParticipant::Hello { .. } => Some("a second hello"),
                FromParticipant::Abort { .. } => Some("aborted"),
            };
            if let Some(why) = refuse {
                drop_participant(&mut conns, u, format!("round {round}: {why}"), &mut events);
                dropped.push(u);
            }
        }
        let (aggregate, included) = match cfg.aggregation {
            Aggregation::Secure(s) => {
                let r = secure_round(
                    &mut conns,
                    &ready,
                    round,
                    d,
                    &s,
                    ddg.as_ref(),
                    frame,
                    &mut events,
                    &mut dropped,
                    rng,
                );
                match r {
                    // The mean of updates bounded by S has norm at most S, plus the
                    // quantization error; a larger one means a participant cheated.
                    Ok((mean, inc))
                        if ddg.is_some()
                            || l2_norm(&mean)
                                <= s.update_clip
                                    + (d as f64).sqrt()
                                        * quantization_bound(&s, inc.len(), 1.0) =>
                    {
                        (mean, inc)
                    }
                    Ok((_, inc)) => {
                        events.push(format!(
                            "round {round}: the secure sum of {:?} is outside the norm bound: not applied",
                            inc
                        ));
                        (vec![0.0; d], vec![])
                    }
                    Err(e) => {
                        events.push(format!("round {round}: secure aggregation failed: {e}"));
                        (vec![0.0; d], vec![])
                    }
                }
            }
            _ if updates.is_empty() => (vec![0.0; d], vec![]),
            _ => match coord.aggregate_plain(&updates) {
                Ok(a) => (a, updates.iter().map(|u| u.0).collect()),
                Err(e) => {
                    events.push(format!("round {round}: {e}"));
                    (vec![0.0; d], vec![])
                }
            },
        };
        let aggregate_norm = l2_norm(&aggregate);
        coord.apply(&aggregate)?;
        let validation_accuracy = match validation {
            Some(v) => Some(accuracy_on(coord.global(), v)?),
            None => None,
        };
        dropped.sort_unstable();
        dropped.dedup();
        log.push(RoundLog {
            round,
            selected,
            included,
            declined,
            dropped,
            aggregate_norm,
            validation_accuracy,
        });
        if let Some(path) = checkpoint {
            coord.checkpoint(&setup.run_id, &log).save(path)?;
        }
    }
    let fin = msgs::encode(&ToParticipant::Finish {
        params: coord.global().params(),
    });
    let out = conns.keys().map(|&u| (u, fin.clone())).collect();
    exchange(&mut conns, out, &[], &mut events);
    Ok(ServeReport {
        rounds: log,
        events,
    })
}

/// One secure round over the ready participants' connections.
#[allow(clippy::too_many_arguments)]
fn secure_round<R: CryptoRng + ?Sized>(
    conns: &mut BTreeMap<ClientId, Conn>,
    ready: &[ClientId],
    round: u32,
    d: usize,
    s: &SecureConfig,
    ddg: Option<&DdgPlan>,
    frame: usize,
    events: &mut Vec<String>,
    dropped: &mut Vec<u32>,
    rng: &mut R,
) -> Result<(Vec<f64>, Vec<u32>), FlError> {
    // A "sum" of one update is that update: never run it.
    if ready.len() < 2 {
        if !ready.is_empty() {
            events.push(format!(
                "round {round}: one participant ready; its update alone would be revealed: round skipped"
            ));
        }
        return Ok((vec![0.0; d], vec![]));
    }
    if let Some(p) = ddg
        && (ready.len() as u32) < p.dp.min_survivors
    {
        events.push(format!(
            "round {round}: {} participants ready, the participant-level noise needs {}: round skipped",
            ready.len(),
            p.dp.min_survivors
        ));
        return Ok((vec![0.0; d], vec![]));
    }
    // The session's parameters first: if they cannot be made, no participant has been
    // told to expect a sum, and every connection stays with the federation.
    let mut session = [0u8; 32];
    rng.fill_bytes(&mut session);
    let m = ready.len() as u32;
    let params = match ddg {
        Some(p) => {
            // No sum may complete with fewer noise shares than the plan counts.
            let need = p.dp.min_survivors;
            let tol = crate::secagg::Tolerance::new(s.dropout, 0.0)?;
            let derived =
                crate::secagg::Params::derive(m, d as u32, p.bits, s.graph, tol, session)?;
            if (derived.threshold() as u32) < need {
                crate::secagg::Params::custom(
                    m,
                    d as u32,
                    p.bits,
                    crate::secagg::GraphKind::Complete,
                    m - 1,
                    need,
                    session,
                )?
            } else {
                derived
            }
        }
        None => session_params(m, d, s, session)?,
    };
    // Tell each ready participant its index, then hand its connection to secagg; one that
    // cannot be told is a dropout of the session.
    let index_of: Vec<ClientId> = ready.to_vec();
    let mut session_conns: BTreeMap<ClientId, Conn> = BTreeMap::new();
    for (index, &u) in index_of.iter().enumerate() {
        let Some(mut t) = conns.remove(&u) else {
            continue;
        };
        let index = index as u32;
        match t.send(&msgs::encode(&ToParticipant::SecAgg { round, index })) {
            Ok(()) => {
                session_conns.insert(index, t);
            }
            Err(e) => {
                events.push(format!("participant {u} dropped: {e}"));
                dropped.push(u);
            }
        }
    }
    for t in session_conns.values_mut() {
        t.set_max_frame(Message::max_len(&params).max(frame));
    }
    let result = run_server(&mut session_conns, &params, events);
    // Survivors of the session go back to the federation.
    for (i, mut t) in session_conns {
        t.set_max_frame(frame);
        conns.insert(index_of[i as usize], t);
    }
    let agg = result?;
    dropped.extend(agg.dropped.iter().map(|&i| index_of[i as usize]));
    let mean = match ddg {
        Some(p) => p.decode(&agg.sum, agg.survivors.len()),
        None => mean_from_sum(&agg.sum, agg.survivors.len(), s)?,
    };
    Ok((
        mean,
        agg.survivors
            .iter()
            .map(|&i| index_of[i as usize])
            .collect(),
    ))
}

/// The participant-level DP plan a setup describes (both sides calibrate it themselves).
fn ddg_plan(setup: &Setup, dim: usize) -> Result<Option<DdgPlan>, FlError> {
    let Some(p) = &setup.participant_dp else {
        return Ok(None);
    };
    let (Some(clip), Some(_)) = (setup.update_clip, setup.secure_bits) else {
        return Err(FlError::InvalidConfig(
            "participant-level DP needs secure aggregation and an update bound".into(),
        ));
    };
    let dp = ParticipantLevelDp {
        epsilon: p.epsilon,
        delta: p.delta,
        clip,
        min_survivors: p.min_survivors,
    };
    Ok(Some(DdgPlan::calibrate(dp, dim, setup.rounds)?))
}

/// A participant's answer to the last round it was asked, kept so that a resumed
/// coordinator's repeated request costs nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Cached {
    Update(Vec<f64>),
    Ready(Vec<u64>),
    Declined(String),
}

/// The last round a participant answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Last {
    round: u32,
    answer: Cached,
    /// Its secure input went into a sum: it is never sent again (a second sum without
    /// some other participant would reveal it with only its own noise).
    summed: bool,
}

/// The participant's state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ParticipantState {
    run_id: String,
    /// SHA-256 of the setup: a resumed run must not change its settings.
    setup_hash: String,
    accounting: Accounting,
    last: Option<Last>,
}

fn setup_hash(setup: &Setup) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(msgs::encode(setup));
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn msg_kind(m: &FromParticipant) -> &'static str {
    match m {
        FromParticipant::Hello { .. } => "hello",
        FromParticipant::Update { .. } => "update",
        FromParticipant::Ready { .. } => "ready",
        FromParticipant::Declined { .. } => "declined",
        FromParticipant::Abort { .. } => "abort",
    }
}

/// At most 200 characters of a peer's text.
fn clip_text(s: &str) -> String {
    s.chars().take(200).collect()
}

fn save_state(path: &Path, s: &ParticipantState) -> Result<(), FlError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(s).unwrap_or_default())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| FlError::InvalidConfig(format!("state file {}: {e}", path.display())))
}

/// What a participant run ended with.
#[derive(Debug)]
pub struct JoinReport {
    /// The final global parameters.
    pub params: Vec<f64>,
    /// Rounds this participant trained in (over restarts).
    pub rounds_joined: u32,
    /// Its record-level epsilon (0 without DP).
    pub epsilon: f64,
}

/// Checks the coordinator's setup against this participant's data and its own limits.
fn check_setup(s: &Setup, data: &Dataset, max_epsilon: Option<f64>) -> Result<(), FlError> {
    let bad = |m: String| Err(FlError::InvalidConfig(m));
    if s.feature_names != data.feature_names() {
        return bad(format!(
            "the coordinator's features {:?} are not this data's {:?}",
            s.feature_names,
            data.feature_names()
        ));
    }
    if s.classes != data.classes() {
        return bad(format!(
            "the coordinator's labels {:?} are not this data's {:?}",
            s.classes,
            data.classes()
        ));
    }
    let l = &s.local;
    let ok = (1..=1000).contains(&l.epochs)
        && l.sampling_rate > 0.0
        && l.sampling_rate <= 1.0
        && l.lr.is_finite()
        && l.lr > 0.0;
    if !ok {
        return bad(format!("local training settings out of range: {l:?}"));
    }
    if !(1..=100_000).contains(&s.rounds) {
        return bad(format!("{} rounds", s.rounds));
    }
    if let (Some(dp), Some(max)) = (&s.dp, max_epsilon)
        && dp.epsilon > max
    {
        return bad(format!(
            "the run asks for epsilon {} and this participant allows {max}",
            dp.epsilon
        ));
    }
    Ok(())
}

/// Runs participant `id` with its raw (unscaled) records against the coordinator at
/// `addr`. It calibrates its own DP noise from the run's target (the coordinator cannot
/// weaken it), charges `account` before each round it trains in, and keeps `state` so a
/// repeated round after a coordinator restart costs nothing.
///
/// # Errors
/// [`FlError::InvalidConfig`] for a setup this participant refuses (other features or
/// labels, settings out of range, an epsilon above `max_epsilon`) or a coordinator that
/// breaks the protocol; [`FlError::SecAgg`] for network failures and secure-aggregation
/// errors; training and ledger errors.
#[allow(clippy::too_many_arguments)]
pub fn join<R: CryptoRng + ?Sized>(
    addr: &str,
    security: &Security,
    opts: &ChannelOptions,
    id: u32,
    raw: &Dataset,
    account: Option<LedgerAccount>,
    state: Option<&Path>,
    max_epsilon: Option<f64>,
    rng: &mut R,
) -> Result<JoinReport, FlError> {
    let proto = |e: String| FlError::InvalidConfig(format!("coordinator: {e}"));
    let mut t =
        net::connect(addr, security, opts, "server").map_err(crate::secagg::SecAggError::from)?;
    let io = |e: crate::net::NetError| FlError::SecAgg(e.into());
    if !security.is_secure() {
        t.send(client_name(id).as_bytes()).map_err(io)?;
    }
    t.set_max_frame(SETUP_FRAME);
    let setup = match msgs::decode::<ToParticipant>(&t.recv().map_err(io)?).map_err(proto)? {
        ToParticipant::Setup(s) => *s,
        ToParticipant::Abort { reason } => return Err(proto(format!("aborted: {reason}"))),
        other => {
            return Err(proto(format!(
                "expected the setup, got {}",
                match other {
                    ToParticipant::Train { .. } => "train",
                    ToParticipant::Skip { .. } => "skip",
                    ToParticipant::SecAgg { .. } => "secagg",
                    ToParticipant::Finish { .. } => "finish",
                    ToParticipant::Abort { .. } => "abort",
                    ToParticipant::Setup(_) => "setup",
                }
            )));
        }
    };
    check_setup(&setup, raw, max_epsilon)?;
    let data = setup
        .scaler
        .apply(raw)
        .map_err(|e| FlError::InvalidConfig(e.to_string()))?;
    let mut net = Network::new(&setup.architecture, data.n_features(), data.n_classes(), 0)?;
    let d = net.n_params();
    let local = TrainConfig::new(
        setup.local.epochs,
        SamplingRate::new(setup.local.sampling_rate)?,
        setup.local.lr,
    );
    let plan = match &setup.dp {
        Some(dp) => {
            let accountant = match dp.accountant.as_str() {
                "rdp" => Accountant::Rdp,
                "pld" => Accountant::Pld,
                a => return Err(proto(format!("unknown accountant {a}"))),
            };
            let dp = RecordLevelDp {
                epsilon: dp.epsilon,
                delta: Delta::new(dp.delta)?,
                clip: ClipNorm::new(dp.clip)?,
                accountant,
            };
            Some(RecordLevelPlan::calibrate(dp, &local, setup.rounds)?)
        }
        None => None,
    };
    if setup.dp.is_some() && setup.participant_dp.is_some() {
        return Err(proto(
            "a setup with both record-level and participant-level DP".into(),
        ));
    }
    let ddg = ddg_plan(&setup, d)?;
    if let (Some(p), Some(max)) = (&ddg, max_epsilon)
        && p.dp.epsilon > max
    {
        return Err(FlError::InvalidConfig(format!(
            "the run asks for participant-level epsilon {} and this participant allows {max}",
            p.dp.epsilon
        )));
    }
    let mut me = Participant::new(id, data, account);
    if let Some(p) = ddg {
        me = me.with_participant_level(p);
    }
    let hash = setup_hash(&setup);
    let mut st = ParticipantState {
        run_id: setup.run_id.clone(),
        setup_hash: hash.clone(),
        accounting: me.accounting(),
        last: None,
    };
    if let Some(path) = state {
        let bad = |e: String| FlError::InvalidConfig(format!("state file {}: {e}", path.display()));
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(bad(e.to_string())),
            Ok(bytes) => {
                let old: ParticipantState =
                    serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
                if old.run_id == setup.run_id {
                    if old.setup_hash != hash {
                        return Err(bad(format!(
                            "run {} resumed with other settings (rounds, privacy or model): \
                             refused, they would change what was spent",
                            setup.run_id
                        )));
                    }
                    me.restore(old.accounting);
                    st = old;
                }
            }
        }
    }
    // With DP the exact record count would be a non-private release: announce 1, and the
    // coordinator averages without weights.
    let private = setup.dp.is_some() || setup.participant_dp.is_some();
    let announced = if private { 1 } else { me.n_records() as u64 };
    t.send(&msgs::encode(&FromParticipant::Hello {
        records: announced,
    }))
    .map_err(io)?;
    let frame = msgs::max_frame(d, setup.feature_names.iter().map(String::len).sum());
    t.set_max_frame(frame);
    let mut pending: Option<(u32, Vec<u64>)> = None;
    loop {
        let m = msgs::decode::<ToParticipant>(&t.recv().map_err(io)?).map_err(proto)?;
        match m {
            ToParticipant::Train {
                round,
                params,
                max_records,
            } => {
                let max_ok = max_records.is_finite() && max_records > 0.0;
                if params.len() != d || params.iter().any(|x| !x.is_finite()) || !max_ok {
                    return Err(proto(format!("round {round}: bad parameters")));
                }
                let last_round = st.last.as_ref().map_or(0, |l| l.round);
                if round == 0 || round > setup.rounds || round < last_round {
                    return Err(proto(format!(
                        "round {round} asked after round {last_round} of {}",
                        setup.rounds
                    )));
                }
                let cached = match &st.last {
                    Some(l) if l.round == round && l.summed => Some(Cached::Declined(format!(
                        "round {round}: this participant's input was already summed once"
                    ))),
                    Some(l) if l.round == round => Some(l.answer.clone()),
                    _ => None,
                };
                let answer = match cached {
                    Some(c) => c,
                    None => {
                        net.set_params(&params)?;
                        let secure = setup.secure_bits.map(|bits| SecureConfig {
                            bits,
                            graph: crate::secagg::GraphKind::Complete,
                            dropout: 0.0,
                            update_clip: setup.update_clip.unwrap_or(1.0),
                        });
                        let c = match me.local_update(
                            &net,
                            &local,
                            plan.as_ref(),
                            setup.update_clip,
                            rng,
                        )? {
                            Response::Declined(why) => Cached::Declined(why),
                            Response::Update { delta, weight } => match secure {
                                Some(s) => Cached::Ready(match &ddg {
                                    Some(p) => p.encode(&delta, rng)?,
                                    None => {
                                        let w = if private { 1.0 } else { weight };
                                        quantize_update(&delta, w, max_records, &s, rng)?
                                    }
                                }),
                                None => Cached::Update(delta),
                            },
                        };
                        st.accounting = me.accounting();
                        st.last = Some(Last {
                            round,
                            answer: c.clone(),
                            summed: false,
                        });
                        if let Some(path) = state {
                            save_state(path, &st)?;
                        }
                        c
                    }
                };
                let reply = match answer {
                    Cached::Declined(reason) => FromParticipant::Declined {
                        round,
                        reason: clip_text(&reason),
                    },
                    Cached::Update(delta) => FromParticipant::Update { round, delta },
                    Cached::Ready(input) => {
                        pending = Some((round, input));
                        FromParticipant::Ready { round }
                    }
                };
                t.send(&msgs::encode(&reply)).map_err(io)?;
            }
            ToParticipant::Skip { .. } => {}
            ToParticipant::SecAgg { round, index } => {
                let Some((r, input)) = pending.take().filter(|p| p.0 == round) else {
                    return Err(proto(format!(
                        "round {round}: a secure sum without a ready update"
                    )));
                };
                debug_assert_eq!(r, round);
                // Recorded before anything is sent: a crash mid-sum must not let the same
                // input into a second sum.
                if let Some(l) = st.last.as_mut().filter(|l| l.round == round) {
                    l.summed = true;
                }
                if let Some(path) = state {
                    save_state(path, &st)?;
                }
                let need = ddg.map_or(0, |p| p.dp.min_survivors);
                run_client_checked(
                    &mut t,
                    index,
                    input,
                    rng,
                    |_| {},
                    |p| {
                        if (p.threshold() as u32) < need {
                            return Err(crate::secagg::SecAggError::InsecureParams(format!(
                                "a sum that completes with {} participants; this participant's \
                             noise share assumes at least {need}",
                                p.threshold()
                            )));
                        }
                        Ok(())
                    },
                )?;
                t.set_max_frame(frame);
            }
            ToParticipant::Finish { params } => {
                if params.len() != d {
                    return Err(proto("final parameters of the wrong length".into()));
                }
                let a = me.accounting();
                return Ok(JoinReport {
                    params,
                    rounds_joined: a.rounds_joined,
                    epsilon: a.epsilon,
                });
            }
            ToParticipant::Abort { reason } => return Err(proto(format!("aborted: {reason}"))),
            ToParticipant::Setup(_) => return Err(proto("a second setup".into())),
        }
    }
}

/// The default state file of a participant: beside its data, named by the run.
pub fn default_state_path(data: &Path, id: u32) -> PathBuf {
    data.with_extension(format!("fl-state-{id}.json"))
}
