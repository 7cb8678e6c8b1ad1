//! `gridwork`: a gridwork device from the terminal, and `gridwork demo`, which runs the whole
//! system (a real sync server, five devices, a day of field work) on embedded defaults.
//!
//! ```text
//! gridwork demo                                  # the main job, nothing to set up
//! gridwork device enroll --server URL --code CODE
//! gridwork household add --building ID --unit 2-301 --kind rental
//! gridwork hazard report --building ID --title "电动车楼道充电"
//! gridwork sync
//! gridwork case list --json
//! ```

mod args;
mod commands;
mod demo;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
