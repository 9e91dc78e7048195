//! `shroud psi serve | query | local`: private set intersection from files.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use shroud::net::{self, ChannelOptions, MemoryTransport, Security};
use shroud::paillier::{KeygenOptions, SecretKey, generate_keypair};
use shroud::psi::input::{InputSet, Normalize, read_csv, read_lines};
use shroud::psi::{self, ClientConfig, ClientOutput, Mode, ServerConfig, ServerOutput, SetFormat};

use crate::Failure;
use crate::channel::ChannelArgs;

#[derive(Subcommand)]
pub enum PsiCommand {
    /// Run the server role: wait for one client, answer it, exit.
    Serve(ServeArgs),
    /// Run the client role against a server and print what the client learns.
    Query(QueryArgs),
    /// Run both roles in one process (the full protocol over an in-memory channel).
    Local(LocalArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// The client learns which of its elements the server holds.
    Intersection,
    /// The client learns how many.
    Cardinality,
    /// The client learns the sum of the server's values over the intersection (a client
    /// that cheats can learn one chosen combination of them instead, e.g. one value).
    Sum,
    /// The intersection, with each matched value split into shares mod 2^64.
    Shares,
    /// The server learns the sum of its values over the intersection, the client how many
    /// (and the sum too with --reveal-sum). Safe against a cheating client.
    ServerSum,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Intersection => Mode::Intersection,
            ModeArg::Cardinality => Mode::Cardinality,
            ModeArg::Sum => Mode::Sum,
            ModeArg::Shares => Mode::Shares,
            ModeArg::ServerSum => Mode::ServerSum,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Sorted truncated tags.
    Raw,
    /// Golomb-Rice compressed set (false positives <= 2^-30 per session).
    Compressed,
}

#[derive(Args, Clone)]
pub struct Common {
    /// Session label; both sides must use the same one.
    #[arg(long, default_value = "shroud-psi")]
    label: String,
    /// Trim whitespace around identifiers.
    #[arg(long)]
    trim: bool,
    /// Lowercase identifiers.
    #[arg(long)]
    lowercase: bool,
    /// Network timeout in seconds (connecting, and each message).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn channel_options(&self) -> ChannelOptions {
        ChannelOptions::new("psi", self.label.as_bytes())
            .with_timeout(Duration::from_secs(self.timeout))
    }

    fn norm(&self) -> Normalize {
        Normalize {
            trim: self.trim,
            lowercase: self.lowercase,
        }
    }
}

/// The server's options, shared by `serve` and `local`.
#[derive(Args)]
pub struct ServerSide {
    /// CSV identifier column of the server's input (default: the first).
    #[arg(long)]
    column: Option<String>,
    /// CSV column of the server's non-negative integer values (sum and shares modes).
    #[arg(long)]
    values_column: Option<String>,
    /// What the client learns.
    #[arg(long, value_enum)]
    mode: ModeArg,
    /// Sum and server-sum modes: refuse sums over fewer matches.
    #[arg(long, default_value_t = 0)]
    threshold: u64,
    /// Server-sum mode: send the sum to the client too (if it is within what the count
    /// allows). A client that cheats can then learn one combination of its matched values
    /// of its choosing (e.g. one value) instead of the sum: reveal only to a client that
    /// may learn that.
    #[arg(long)]
    reveal_sum: bool,
    /// How the server's set is sent.
    #[arg(long, value_enum, default_value = "compressed")]
    format: FormatArg,
    /// Bits of the session's fresh Paillier key (sum and shares).
    #[arg(long, default_value_t = 3072)]
    key_bits: u32,
    /// Largest client set accepted (the request is refused before it is read).
    #[arg(long, default_value_t = 1 << 20)]
    max_client_elements: u64,
    /// Sum, shares and server-sum modes: encrypt the values with DJN short exponents
    /// (faster set-up; adds the short-exponent assumption to Paillier's).
    #[arg(long)]
    djn: bool,
}

impl ServerSide {
    /// Reads the server's set and builds the server.
    fn build(
        &self,
        input: &Path,
        key: Option<SecretKey>,
        common: &Common,
    ) -> Result<psi::Server, Failure> {
        let mode: Mode = self.mode.into();
        let set = read_set(
            input,
            self.column.as_deref(),
            self.values_column.as_deref(),
            common.norm(),
        )?;
        let mut config = server_config(mode, self.format, self.threshold, &common.label);
        config.max_client_elements = self.max_client_elements;
        config.reveal_sum = self.reveal_sum;
        config.djn = self.djn;
        if self.djn && !matches!(mode, Mode::Sum | Mode::Shares | Mode::ServerSum) {
            return Err(Failure(
                "--djn applies to the sum, shares and server-sum modes only".into(),
            ));
        }
        if self.reveal_sum && mode != Mode::ServerSum {
            return Err(Failure(
                "--reveal-sum applies to --mode server-sum only".into(),
            ));
        }

        make_server(mode, config, set, key, self.key_bits)
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (HOST:PORT).
    #[arg(long)]
    listen: String,
    /// The server's set: one identifier per line, or a CSV with a header (.csv, --column
    /// or --values-column).
    #[arg(long)]
    input: PathBuf,
    #[command(flatten)]
    server: ServerSide,
    /// Sum / shares: the Paillier private key (pheutil JWK) to use; default: a fresh key
    /// for this session. Needs --dedicated-key.
    #[arg(long, requires = "dedicated_key")]
    key: Option<PathBuf>,
    /// Confirms that --key serves this PSI service only: every client session runs a
    /// decryption under it, so a key that also protects other data must not be used.
    #[arg(long, requires = "key")]
    dedicated_key: bool,
    /// Shares mode: write the server's shares here (CSV: index,share).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    channel: ChannelArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
pub struct QueryArgs {
    /// Server address (HOST:PORT).
    #[arg(long)]
    connect: String,
    /// The client's set (as for serve).
    #[arg(long)]
    input: PathBuf,
    /// CSV identifier column (default: the first).
    #[arg(long)]
    column: Option<String>,
    /// The mode the server must be running.
    #[arg(long, value_enum)]
    mode: ModeArg,
    /// Write the result here: the intersection (one per line), or in shares mode a CSV
    /// id,share.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Smallest server Paillier key accepted.
    #[arg(long, default_value_t = 2048)]
    min_key_bits: u32,
    /// Largest server set accepted (bounds what the server can make this client buffer).
    #[arg(long, default_value_t = 1 << 20)]
    max_server_elements: u64,
    /// The name the server's key is pinned under in --peers.
    #[arg(long, default_value = "server")]
    server_name: String,
    #[command(flatten)]
    channel: ChannelArgs,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
pub struct LocalArgs {
    /// The server's set.
    #[arg(long)]
    server_input: PathBuf,
    /// The client's set.
    #[arg(long)]
    client_input: PathBuf,
    /// CSV identifier column of the client's input (default: the first).
    #[arg(long)]
    client_column: Option<String>,
    #[command(flatten)]
    server: ServerSide,
    #[command(flatten)]
    common: Common,
}

pub fn run(cmd: PsiCommand) -> Result<(), Failure> {
    match cmd {
        PsiCommand::Serve(a) => serve(a),
        PsiCommand::Query(a) => query(a),
        PsiCommand::Local(a) => local(a),
    }
}

/// Reads a set, as CSV when the file ends in .csv or a column was named.
pub fn read_set(
    path: &Path,
    column: Option<&str>,
    values_column: Option<&str>,
    norm: Normalize,
) -> Result<InputSet, Failure> {
    let file =
        std::fs::File::open(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let is_csv = column.is_some()
        || values_column.is_some()
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let set = if is_csv {
        read_csv(std::io::BufReader::new(file), column, values_column, norm)
    } else {
        read_lines(std::io::BufReader::new(file), norm)
    }
    .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    if set.duplicates > 0 {
        eprintln!(
            "shroud: warning: {}: {} repeated identifiers dropped (kept the first of each)",
            path.display(),
            set.duplicates
        );
    }
    if set.empty > 0 {
        eprintln!(
            "shroud: warning: {}: {} empty identifiers skipped",
            path.display(),
            set.empty
        );
    }
    Ok(set)
}

fn server_config(mode: Mode, format: FormatArg, threshold: u64, label: &str) -> ServerConfig {
    let mut c = ServerConfig::new(mode);
    c.format = match format {
        FormatArg::Raw => SetFormat::Raw,
        FormatArg::Compressed => SetFormat::Compressed,
    };
    c.threshold = threshold;
    c.label = label.to_string();
    c
}

fn make_server(
    mode: Mode,
    config: ServerConfig,
    set: InputSet,
    key: Option<SecretKey>,
    key_bits: u32,
) -> Result<psi::Server, Failure> {
    let needs = matches!(mode, Mode::Sum | Mode::Shares | Mode::ServerSum);
    if needs && set.values.is_none() {
        return Err(Failure(format!("{mode} mode needs --values-column")));
    }
    if !needs && set.values.is_some() {
        return Err(Failure(format!(
            "--values-column is only used in sum, shares and server-sum modes, not {mode}"
        )));
    }
    let mut rng = shroud::rng::os_rng();
    let sk = match (needs, key) {
        (true, Some(k)) => Some(k),
        (true, None) => Some(generate_keypair(
            KeygenOptions {
                bits: key_bits,
                ..KeygenOptions::default()
            },
            &mut rng,
            &|_| {},
        )?),
        (false, _) => None,
    };
    Ok(psi::Server::new(
        config,
        set.elements,
        set.values,
        sk,
        &mut rng,
    )?)
}

fn client_json(mode: Mode, out: &ClientOutput) -> Value {
    let ids = |v: &Vec<Vec<u8>>| -> Vec<String> {
        v.iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    };
    match mode {
        Mode::Intersection => json!({
            "intersection_size": out.intersection_size,
            "intersection": out.intersection.as_ref().map(ids).unwrap_or_default(),
        }),
        Mode::Cardinality => json!({ "intersection_size": out.intersection_size }),
        Mode::Sum => json!({
            "intersection_size": out.intersection_size,
            "intersection_sum": out.intersection_sum.unwrap_or(0),
        }),
        Mode::Shares => json!({
            "intersection_size": out.intersection_size,
            "intersection": out.intersection.as_ref().map(ids).unwrap_or_default(),
            "shares": out.shares.clone().unwrap_or_default(),
        }),
        Mode::ServerSum => match out.intersection_sum {
            Some(s) => json!({ "intersection_size": out.intersection_size, "intersection_sum": s }),
            None => json!({ "intersection_size": out.intersection_size }),
        },
    }
}

fn print_client(mode: Mode, out: &ClientOutput, json_out: bool) {
    if json_out {
        println!("{}", client_json(mode, out));
        return;
    }
    println!("intersection size: {}", out.intersection_size);
    if let Some(s) = out.intersection_sum {
        println!("intersection sum: {s}");
    }
    if mode == Mode::Intersection
        && let Some(ids) = &out.intersection
    {
        for id in ids {
            println!("{}", String::from_utf8_lossy(id));
        }
    }
}

fn write_out(path: &Path, text: &str) -> Result<(), Failure> {
    let mut f =
        std::fs::File::create(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn serve(a: ServeArgs) -> Result<(), Failure> {
    let key = a.key.as_deref().map(crate::keys::load_secret).transpose()?;
    let server = a.server.build(&a.input, key, &a.common)?;
    if Mode::from(a.server.mode) == Mode::Sum {
        eprintln!(
            "shroud: warning: in sum mode a client that cheats can learn, instead of the sum, \
             one combination of the values of its matched elements (e.g. one value) per \
             session; --mode server-sum keeps the sum with this server"
        );
    }
    let security = a.channel.security()?;
    let listener = TcpListener::bind(&a.listen)
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", a.listen)))?;
    let opts = a.common.channel_options();
    let own = match &security {
        Security::Pinned { identity, peers } => {
            peers.name_of(&identity.fingerprint()).map(str::to_string)
        }
        _ => None,
    };
    let (mut t, who) = net::accept(&listener, &security, &opts, |name| {
        Some(name) != own.as_deref()
    })?;
    if security.is_secure() {
        eprintln!("shroud: client {who:?} authenticated");
    }
    let out = psi::run_server(&mut t, server, &mut shroud::rng::os_rng())?;
    print_server(&out, a.common.json);
    if let (Some(path), Some(shares)) = (&a.out, &out.shares) {
        let mut text = String::from("index,share\n");
        for (i, s) in shares.iter().enumerate() {
            text.push_str(&format!("{i},{s}\n"));
        }
        write_out(path, &text)?;
    }
    Ok(())
}

fn print_server(out: &ServerOutput, json_out: bool) {
    if json_out {
        let mut v = json!({ "intersection_size": out.intersection_size, "shares": out.shares });
        if let Some(s) = out.intersection_sum {
            v["intersection_sum"] = json!(s);
        }
        println!("{v}");
    } else {
        match out.intersection_size {
            Some(n) => println!("session done; the client reported an intersection of {n}"),
            None => println!("session done"),
        }
        if let Some(s) = out.intersection_sum {
            println!("intersection sum: {s}");
        }
    }
}

fn query(a: QueryArgs) -> Result<(), Failure> {
    let mode: Mode = a.mode.into();
    let set = read_set(&a.input, a.column.as_deref(), None, a.common.norm())?;
    let mut config = ClientConfig::new(mode);
    config.label = a.common.label.clone();
    config.min_paillier_bits = a.min_key_bits;
    config.max_server_elements = a.max_server_elements;
    let client = psi::Client::new(config, set.elements)?;
    let security = a.channel.security()?;
    let opts = a.common.channel_options();
    let mut t = net::connect(&a.connect, &security, &opts, &a.server_name)?;
    let out = psi::run_client(&mut t, client, &mut shroud::rng::os_rng())?;
    print_client(mode, &out, a.common.json);
    if let Some(path) = &a.out {
        let mut text = String::new();
        match (&out.intersection, &out.shares) {
            (Some(ids), Some(shares)) => {
                text.push_str("id,share\n");
                for (id, s) in ids.iter().zip(shares) {
                    text.push_str(&format!("{},{s}\n", String::from_utf8_lossy(id)));
                }
            }
            (Some(ids), None) => {
                for id in ids {
                    text.push_str(&String::from_utf8_lossy(id));
                    text.push('\n');
                }
            }
            _ => text = format!("{}\n", client_json(mode, &out)),
        }
        write_out(path, &text)?;
    }
    Ok(())
}

fn local(a: LocalArgs) -> Result<(), Failure> {
    let mode: Mode = a.server.mode.into();
    let server = a.server.build(&a.server_input, None, &a.common)?;
    let cset = read_set(
        &a.client_input,
        a.client_column.as_deref(),
        None,
        a.common.norm(),
    )?;
    let mut cconfig = ClientConfig::new(mode);
    cconfig.label = a.common.label.clone();
    cconfig.min_paillier_bits = a.server.key_bits.min(2048);
    let client = psi::Client::new(cconfig, cset.elements)?;
    let (out, sout) = run_local(server, client)?;
    if mode == Mode::Shares && a.common.json {
        let mut v = client_json(mode, &out);
        v["server_shares"] = json!(sout.shares);
        println!("{v}");
    } else if mode == Mode::ServerSum && a.common.json {
        let mut v = client_json(mode, &out);
        v["server_intersection_sum"] = json!(sout.intersection_sum);
        println!("{v}");
    } else {
        print_client(mode, &out, a.common.json);
        if let Some(s) = sout
            .intersection_sum
            .filter(|_| out.intersection_sum.is_none())
        {
            println!("server's intersection sum: {s}");
        }
    }
    Ok(())
}

/// Both roles over an in-memory channel, the server on its own thread.
pub fn run_local(
    server: psi::Server,
    client: psi::Client,
) -> Result<(ClientOutput, ServerOutput), Failure> {
    let (mut a, mut b) = MemoryTransport::pair();
    let handle =
        std::thread::spawn(move || psi::run_server(&mut a, server, &mut shroud::rng::os_rng()));
    let client_result = psi::run_client(&mut b, client, &mut shroud::rng::os_rng());
    drop(b);
    let server_result = handle
        .join()
        .map_err(|_| Failure("the server thread panicked".into()))?;
    let out = client_result?;
    Ok((out, server_result?))
}
