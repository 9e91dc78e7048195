//! The `shroud` command-line tool.

mod bench;
mod bench_anchor;
#[cfg(feature = "train")]
mod bench_fl;
mod bench_mpc;
#[cfg(feature = "serve")]
mod bench_mpc_infer;
mod bench_psi;
mod bench_secagg;
#[cfg(feature = "serve")]
mod bench_serve;
#[cfg(feature = "train")]
mod bench_train;
mod channel;
mod data;
mod demo;
#[cfg(feature = "train")]
mod demo_story;
mod dp;
#[cfg(feature = "train")]
mod fl;
mod keys;
mod mpc;
mod psi;
#[cfg(feature = "plots")]
mod report;
mod secagg;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "train")]
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Secure computation on private data: Paillier keys, encryption and homomorphic arithmetic
/// compatible with python-paillier, benchmarks and a worked demo.
#[derive(Parser)]
#[command(name = "shroud", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a Paillier private key (pheutil JWK, with its public key under "pub").
    Keygen(keys::KeygenArgs),
    /// Print the public key JWK of a private key.
    Pubkey(keys::PubkeyArgs),
    /// Encrypt a number: prints {"v": .., "e": ..}. Negative values go after `--`.
    Encrypt(keys::EncryptArgs),
    /// Decrypt a {"v", "e"} ciphertext and print the value.
    Decrypt(keys::DecryptArgs),
    /// Add two ciphertexts.
    Add(keys::AddArgs),
    /// Multiply a ciphertext by a plaintext scalar.
    Multiply(keys::MultiplyArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Differential privacy: DP-SGD accounting (RDP, PLD), calibration, budgets.
    Dp {
        #[command(subcommand)]
        what: dp::DpCommand,
    },
    /// Private set intersection: serve, query, or both roles locally.
    Psi {
        #[command(subcommand)]
        what: psi::PsiCommand,
    },
    /// Secret-shared computation among several parties (joint statistics).
    Mpc {
        #[command(subcommand)]
        what: mpc::MpcCommand,
    },
    /// Built-in data sets (synthetic hospitals).
    Data {
        #[command(subcommand)]
        what: data::DataCommand,
    },
    /// Train a model, with DP-SGD when --epsilon or --noise-multiplier is given.
    #[cfg(feature = "train")]
    Train(Box<train::TrainArgs>),
    /// Evaluate a model on labelled data: accuracy, balanced accuracy, ROC AUC.
    #[cfg(feature = "train")]
    Evaluate(train::EvaluateArgs),
    /// Attacks on trained models (membership inference).
    #[cfg(feature = "train")]
    Attack {
        #[command(subcommand)]
        what: train::AttackCommand,
    },
    /// Reports with plots (privacy against utility).
    #[cfg(feature = "plots")]
    Report {
        #[command(subcommand)]
        what: report::ReportCommand,
    },
    /// Secure aggregation (SecAgg / SecAgg+): a server learns only the sum of the
    /// clients' vectors, even when some drop out.
    Secagg {
        #[command(subcommand)]
        what: secagg::SecAggCommand,
    },
    /// Federated learning: participants train one model; with secure aggregation (the
    /// default) the coordinator sees only the sum of their updates.
    #[cfg(feature = "train")]
    Fl {
        #[command(subcommand)]
        what: fl::FlCommand,
    },
    /// Long-term identities for authenticated channels.
    Identity {
        #[command(subcommand)]
        what: channel::IdentityCommand,
    },
    /// Serve a linear or logistic model to clients who send encrypted features
    /// (python-paillier's serialization over HTTP).
    #[cfg(feature = "serve")]
    ServeModel(Box<serve::ServeModelArgs>),
    /// Score records against a `serve-model` service: encrypt, post, decrypt.
    #[cfg(feature = "serve")]
    Score(serve::ScoreArgs),
    /// Run the worked example: encrypted risk scoring between a hospital and a model owner.
    Demo,
}

/// A failure to report: one line on stderr, exit code 2.
pub struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // One line: the message and any hint, without the usage block.
            let text = e.to_string();
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("Usage:")
                        && !l.starts_with("For more information")
                })
                .map(|l| l.trim_start_matches("error: "))
                .collect();
            eprintln!("shroud: error: {} (see --help)", line.join(" "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Keygen(a) => keys::keygen(a),
        Command::Pubkey(a) => keys::pubkey(a),
        Command::Encrypt(a) => keys::encrypt(a),
        Command::Decrypt(a) => keys::decrypt(a),
        Command::Add(a) => keys::add(a),
        Command::Multiply(a) => keys::multiply(a),
        Command::Bench { what } => bench::run(what),
        Command::Dp { what } => dp::run(what),
        Command::Psi { what } => psi::run(what),
        Command::Mpc { what } => mpc::run(what),
        Command::Data { what } => data::run(what),
        #[cfg(feature = "train")]
        Command::Train(a) => train::train_cmd(*a),
        #[cfg(feature = "train")]
        Command::Evaluate(a) => train::evaluate_cmd(a),
        #[cfg(feature = "train")]
        Command::Attack { what } => train::attack_cmd(what),
        #[cfg(feature = "plots")]
        Command::Report { what } => report::run(what),
        Command::Secagg { what } => secagg::run(what),
        #[cfg(feature = "train")]
        Command::Fl { what } => fl::run(what),
        Command::Identity { what } => channel::run(what),
        #[cfg(feature = "serve")]
        Command::ServeModel(a) => serve::serve_model(*a),
        #[cfg(feature = "serve")]
        Command::Score(a) => serve::score(a),
        Command::Demo => demo::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            let line = msg.lines().next().unwrap_or("failed");
            eprintln!("shroud: error: {line}");
            ExitCode::from(2)
        }
    }
}
