//! `shroud dp ...`: privacy accounting from the command line.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use shroud::dp::rdp::{calibrate_noise_multiplier, dpsgd_epsilon};
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};

use crate::Failure;

#[derive(Subcommand)]
pub enum DpCommand {
    /// Epsilon of a DP-SGD run (Poisson-subsampled Gaussian).
    Epsilon(EpsilonArgs),
    /// The smallest noise multiplier that meets a target epsilon.
    Calibrate(CalibrateArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Accountant {
    /// Renyi DP (dp_accounting's orders, Balle et al. 2020 conversion).
    Rdp,
    /// Privacy loss distributions (not in this release).
    Pld,
}

#[derive(Args)]
pub struct EpsilonArgs {
    #[arg(long, allow_negative_numbers = true)]
    sampling_rate: f64,
    #[arg(long, allow_negative_numbers = true)]
    noise_multiplier: f64,
    #[arg(long)]
    steps: u64,
    #[arg(long, allow_negative_numbers = true)]
    delta: f64,
    #[arg(long, value_enum, default_value = "rdp")]
    accountant: Accountant,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CalibrateArgs {
    #[arg(long, allow_negative_numbers = true)]
    target_epsilon: f64,
    #[arg(long, allow_negative_numbers = true)]
    delta: f64,
    #[arg(long, allow_negative_numbers = true)]
    sampling_rate: f64,
    #[arg(long)]
    steps: u64,
    #[arg(long, value_enum, default_value = "rdp")]
    accountant: Accountant,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn rdp_only(a: Accountant) -> Result<(), Failure> {
    match a {
        Accountant::Rdp => Ok(()),
        Accountant::Pld => Err(Failure(
            "the PLD accountant is not available in this release; use --accountant rdp".into(),
        )),
    }
}

pub fn run(cmd: DpCommand) -> Result<(), Failure> {
    match cmd {
        DpCommand::Epsilon(a) => {
            rdp_only(a.accountant)?;
            let (eps, order) = dpsgd_epsilon(
                SamplingRate::new(a.sampling_rate)?,
                NoiseMultiplier::new(a.noise_multiplier)?,
                a.steps,
                Delta::new(a.delta)?,
            )?;
            if a.json {
                println!(
                    "{}",
                    json!({"epsilon": eps, "delta": a.delta, "accountant": "rdp", "order": order})
                );
            } else {
                println!(
                    "epsilon = {eps} at delta = {} (RDP, optimal order {order})",
                    a.delta
                );
            }
        }
        DpCommand::Calibrate(a) => {
            rdp_only(a.accountant)?;
            let (sigma, eps) = calibrate_noise_multiplier(
                SamplingRate::new(a.sampling_rate)?,
                a.steps,
                Delta::new(a.delta)?,
                a.target_epsilon,
            )?;
            if a.json {
                println!(
                    "{}",
                    json!({"noise_multiplier": sigma.get(), "epsilon": eps, "target_epsilon": a.target_epsilon, "delta": a.delta, "accountant": "rdp"})
                );
            } else {
                println!("{}", sigma.get());
            }
        }
    }
    Ok(())
}
