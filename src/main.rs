fn main() -> std::process::ExitCode {
    // A command collector runs its program under driftless itself, as its supervisor.
    if let Some(code) = driftless::metrics::supervisor::run_if_requested() {
        return code;
    }
    driftless::cli::main()
}
