//! `shroud data ...`: the built-in data sets.

use clap::{Args, Subcommand};
use shroud::data::hospitals::{HospitalConfig, generate};

use crate::Failure;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Synthetic hospital patients: hospital_1.csv .. hospital_K.csv and holdout.csv.
    Hospitals(HospitalsArgs),
}

#[derive(Args)]
pub struct HospitalsArgs {
    /// Training patients, split over the hospitals.
    #[arg(long, default_value_t = 3000)]
    patients: usize,
    /// Number of hospitals (non-IID slices by age).
    #[arg(long, default_value_t = 3)]
    hospitals: usize,
    /// Holdout patients (at least 2000).
    #[arg(long, default_value_t = 2000)]
    holdout: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory to write the CSVs into (created if missing).
    #[arg(long)]
    out: std::path::PathBuf,
}

pub fn run(cmd: DataCommand) -> Result<(), Failure> {
    match cmd {
        DataCommand::Hospitals(a) => {
            let cfg =
                HospitalConfig::new(a.patients, a.hospitals, a.seed)?.with_holdout(a.holdout)?;
            let data = generate(&cfg);
            for p in data.write_csvs(&a.out)? {
                println!("{}", p.display());
            }
            Ok(())
        }
    }
}
