//! The `rekey` binary; everything lives in the library (`rekey::cli`).

fn main() -> std::process::ExitCode {
    rekey::cli::main()
}
