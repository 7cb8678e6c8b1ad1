//! The `gridwork-server` binary. Its command line lives in the library
//! ([`gridwork_server::cli`]), so that the benchmark harness runs the very same code.

fn main() -> std::process::ExitCode {
    gridwork_server::cli::main()
}
