fn main() -> std::process::ExitCode {
    rendorix::cli::run(std::env::args_os())
}
