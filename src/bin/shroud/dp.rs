//! `shroud dp ...`: privacy accounting from the command line.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use shroud::dp::calibrate::{self, calibrate_noise_multiplier, dpsgd_epsilon};
use shroud::dp::{Delta, NoiseMultiplier, SamplingRate};

use crate::Failure;

#[derive(Subcommand)]
pub enum DpCommand {
    /// Epsilon of a DP-SGD run (Poisson-subsampled Gaussian).
    Epsilon(EpsilonArgs),
    /// The smallest noise multiplier that meets a target epsilon.
    Calibrate(CalibrateArgs),
    /// Privacy budgets in a persistent ledger (per data set and principal).
    Budget(BudgetArgs),
    /// Release one noisy value (for scripting); prints the value.
    Release(ReleaseArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MechanismName {
    /// Laplace on a power-of-two grid (pure epsilon).
    Laplace,
    /// Gaussian on a power-of-two grid, analytic calibration (needs --delta).
    Gaussian,
    /// Discrete Laplace on an integer value (integer sensitivity).
    DiscreteLaplace,
    /// Discrete Gaussian on an integer value, via zCDP (needs --delta).
    DiscreteGaussian,
}

#[derive(Args)]
pub struct ReleaseArgs {
    #[arg(long, value_enum)]
    mechanism: MechanismName,
    #[arg(long, allow_negative_numbers = true)]
    epsilon: f64,
    #[arg(long, allow_negative_numbers = true)]
    delta: Option<f64>,
    /// L1 sensitivity (Laplace) or L2 sensitivity (Gaussian).
    #[arg(long, allow_negative_numbers = true)]
    sensitivity: f64,
    /// Print JSON with the cost and the grid.
    #[arg(long)]
    json: bool,
    /// The value to release (negative values after --).
    value: String,
}

#[derive(Args)]
pub struct BudgetArgs {
    /// The ledger file.
    #[arg(long)]
    ledger: std::path::PathBuf,
    #[command(subcommand)]
    action: BudgetAction,
}

#[derive(Subcommand)]
pub enum BudgetAction {
    /// Create a new, empty ledger (refuses to overwrite one).
    Create,
    /// Add an account with an (epsilon, delta) budget.
    Add {
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        principal: String,
        #[arg(long, allow_negative_numbers = true)]
        epsilon: f64,
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        delta: f64,
    },
    /// Spend from an account; refused (exit 2, nothing spent) if it would exceed the budget.
    Spend {
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        principal: String,
        #[arg(long, allow_negative_numbers = true)]
        epsilon: f64,
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        delta: f64,
    },
    /// Print every account.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Accountant {
    /// Renyi DP (dp_accounting's orders, Balle et al. 2020 conversion).
    Rdp,
    /// Privacy loss distributions (tighter; connect-the-dots discretization).
    Pld,
}

impl Accountant {
    pub fn lib(self) -> calibrate::Accountant {
        match self {
            Accountant::Rdp => calibrate::Accountant::Rdp,
            Accountant::Pld => calibrate::Accountant::Pld,
        }
    }
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

fn release(a: ReleaseArgs) -> Result<(), Failure> {
    use shroud::dp::release as rel;
    let mut rng = shroud::rng::chacha_from_os();
    let need_delta = || {
        a.delta
            .ok_or_else(|| Failure("this mechanism needs --delta".into()))
    };
    let int_value = || -> Result<(i64, u64), Failure> {
        let v: i64 = a
            .value
            .trim()
            .parse()
            .map_err(|_| Failure(format!("\"{}\" is not an integer", a.value)))?;
        let s = a.sensitivity;
        if !(s.is_finite() && s >= 1.0 && s.fract() == 0.0 && s < 1e18) {
            return Err(Failure(format!(
                "discrete mechanisms need a positive integer sensitivity, got {s}"
            )));
        }
        Ok((v, s as u64))
    };
    let float_value = || -> Result<f64, Failure> {
        a.value
            .trim()
            .parse::<f64>()
            .map_err(|_| Failure(format!("\"{}\" is not a number", a.value)))
    };
    let (value, granularity, cost) = match a.mechanism {
        MechanismName::Laplace => {
            let r = rel::laplace(&mut rng, float_value()?, a.sensitivity, a.epsilon)?;
            (json!(r.value), Some(r.granularity), r.cost)
        }
        MechanismName::Gaussian => {
            let r = rel::gaussian(
                &mut rng,
                float_value()?,
                a.sensitivity,
                a.epsilon,
                need_delta()?,
            )?;
            (json!(r.value), Some(r.granularity), r.cost)
        }
        MechanismName::DiscreteLaplace => {
            let (v, s) = int_value()?;
            let (out, cost) = rel::discrete_laplace_int(&mut rng, v, s, a.epsilon)?;
            (
                i64::try_from(out).map_or_else(|_| json!(out.to_string()), |v| json!(v)),
                None,
                cost,
            )
        }
        MechanismName::DiscreteGaussian => {
            let (v, s) = int_value()?;
            let (out, cost) = rel::discrete_gaussian_int(&mut rng, v, s, a.epsilon, need_delta()?)?;
            (
                i64::try_from(out).map_or_else(|_| json!(out.to_string()), |v| json!(v)),
                None,
                cost,
            )
        }
    };
    if a.json {
        let (e, d) = cost.to_approx(a.delta.unwrap_or(0.0).max(f64::MIN_POSITIVE))?;
        println!(
            "{}",
            json!({"value": value, "epsilon": e, "delta": d, "granularity": granularity})
        );
    } else {
        match value {
            serde_json::Value::String(s) => println!("{s}"),
            v => println!("{v}"),
        }
    }
    Ok(())
}

pub fn run(cmd: DpCommand) -> Result<(), Failure> {
    match cmd {
        DpCommand::Release(a) => release(a)?,
        DpCommand::Budget(a) => budget(a)?,
        DpCommand::Epsilon(a) => {
            let (eps, order) = dpsgd_epsilon(
                a.accountant.lib(),
                SamplingRate::new(a.sampling_rate)?,
                NoiseMultiplier::new(a.noise_multiplier)?,
                a.steps,
                Delta::new(a.delta)?,
            )?;
            let name = a.accountant.lib().name();
            if a.json {
                let mut v = json!({"epsilon": eps, "delta": a.delta, "accountant": name});
                if let Some(order) = order {
                    v["order"] = json!(order);
                }
                println!("{v}");
            } else {
                match order {
                    Some(o) => println!(
                        "epsilon = {eps} at delta = {} (RDP, optimal order {o})",
                        a.delta
                    ),
                    None => println!("epsilon = {eps} at delta = {} (PLD)", a.delta),
                }
            }
        }
        DpCommand::Calibrate(a) => {
            let (sigma, eps) = calibrate_noise_multiplier(
                a.accountant.lib(),
                SamplingRate::new(a.sampling_rate)?,
                a.steps,
                Delta::new(a.delta)?,
                a.target_epsilon,
            )?;
            if a.json {
                println!(
                    "{}",
                    json!({"noise_multiplier": sigma.get(), "epsilon": eps, "target_epsilon": a.target_epsilon, "delta": a.delta, "accountant": a.accountant.lib().name()})
                );
            } else {
                println!("{}", sigma.get());
            }
        }
    }
    Ok(())
}

fn budget(a: BudgetArgs) -> Result<(), Failure> {
    use shroud::dp::budget::Ledger;
    match a.action {
        BudgetAction::Create => {
            Ledger::create(&a.ledger)?;
            println!("created {}", a.ledger.display());
        }
        BudgetAction::Add {
            dataset,
            principal,
            epsilon,
            delta,
        } => {
            Ledger::open(&a.ledger)?.add_account(&dataset, &principal, epsilon, delta)?;
        }
        BudgetAction::Spend {
            dataset,
            principal,
            epsilon,
            delta,
        } => {
            let l = Ledger::open(&a.ledger)?;
            l.spend(&dataset, &principal, epsilon, delta)?;
            let (e, d) = l.remaining(&dataset, &principal)?;
            println!("spent; remaining epsilon {e}, delta {d}");
        }
        BudgetAction::Show { json } => {
            let l = Ledger::open(&a.ledger)?;
            let rows = l.accounts();
            if json {
                let v: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|a| {
                        json!({"dataset": a.dataset, "principal": a.principal,
                               "budget": {"epsilon": a.budget.0, "delta": a.budget.1},
                               "spent": {"epsilon": a.spent.0, "delta": a.spent.1},
                               "remaining": {"epsilon": a.budget.0 - a.spent.0, "delta": a.budget.1 - a.spent.1}})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!(
                    "{:<20}{:<20}{:>14}{:>14}{:>14}{:>14}",
                    "data set",
                    "principal",
                    "eps budget",
                    "eps spent",
                    "delta budget",
                    "delta spent"
                );
                for a in rows {
                    println!(
                        "{:<20}{:<20}{:>14}{:>14}{:>14e}{:>14e}",
                        a.dataset, a.principal, a.budget.0, a.spent.0, a.budget.1, a.spent.1
                    );
                }
            }
        }
    }
    Ok(())
}
