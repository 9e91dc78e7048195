//! `shroud identity new | show`, and the channel options every networked command takes.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use shroud::net::{Identity, Peers, Security};

use crate::Failure;

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Make a long-term key pair in DIR (identity.key, mode 0600, and identity.pub) and
    /// print its fingerprint, for the peers files of the other parties.
    New {
        /// Directory to write (created if needed; an existing identity is not overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the fingerprint of the identity in DIR.
    Show {
        /// Directory holding identity.key.
        dir: PathBuf,
    },
}

pub fn run(cmd: IdentityCommand) -> Result<(), Failure> {
    match cmd {
        IdentityCommand::New { out } => {
            let id = Identity::generate(&mut shroud::rng::os_rng());
            id.save(&out)?;
            println!("{}", id.fingerprint());
        }
        IdentityCommand::Show { dir } => println!("{}", Identity::load(&dir)?.fingerprint()),
    }
    Ok(())
}

/// How a networked command authenticates: `--identity DIR --peers FILE`, or
/// `--insecure-plaintext` for loopback tests.
#[derive(Args, Clone)]
pub struct ChannelArgs {
    /// This party's identity directory (from `shroud identity new`).
    #[arg(long)]
    identity: Option<PathBuf>,
    /// Pinned peers: one `NAME FINGERPRINT` per line (party indices or roles).
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Plain TCP without authentication or encryption (loopback tests only: anyone on the
    /// path reads every message and can impersonate any party).
    #[arg(long, conflicts_with_all = ["identity", "peers"])]
    insecure_plaintext: bool,
}

impl ChannelArgs {
    pub fn security(&self) -> Result<Security, Failure> {
        match (&self.identity, &self.peers, self.insecure_plaintext) {
            (Some(id), Some(peers), false) => {
                Ok(Security::pinned(Identity::load(id)?, Peers::load(peers)?))
            }
            (None, None, true) => {
                eprintln!(
                    "shroud: warning: --insecure-plaintext: this connection is neither encrypted nor authenticated; anyone on the network path sees every message and can take any party's place"
                );
                Ok(Security::insecure_plaintext())
            }
            _ => Err(Failure(
                "give --identity DIR and --peers FILE (or --insecure-plaintext for loopback tests)"
                    .into(),
            )),
        }
    }
}
