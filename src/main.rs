use std::process::ExitCode;

fn main() -> ExitCode {
    mcsim::cli::main_with_args(std::env::args().collect())
}
