fn main() -> std::process::ExitCode {
    rollout::cli::main()
}
