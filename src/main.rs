fn main() -> std::process::ExitCode {
    rendorix::cli::run()
}
