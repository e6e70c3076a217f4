fn main() -> std::process::ExitCode {
    spar::cli::main()
}
