//! The `rendorix` command: see the README, or `rendorix --help`.

fn main() -> std::process::ExitCode {
    rendorix::cli::run(std::env::args_os())
}
