fn main() -> std::process::ExitCode {
    // A command collector's and a `command` task's program run under driftless itself, as
    // their supervisor.
    if let Some(code) = driftless::process::supervisor::run_if_requested() {
        return code;
    }
    driftless::cli::main()
}
