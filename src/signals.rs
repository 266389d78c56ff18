//! SIGTERM and SIGINT as a request to stop, not a kill: a run lets its running nodes finish,
//! skips the rest and writes its report; the metrics server closes gracefully. SIGHUP, for the
//! long-running commands (`agent`, `logs`), as a request to reload the config. Each handler
//! only sets a flag, which the work in progress reads at its next step.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGTERM or SIGINT once [`stop_on_signals`] installed the handlers.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Set by SIGHUP once [`reload_on_sighup`] installed the handler.
static HANGUP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_reload(_signal: libc::c_int) {
    HANGUP.store(true, Ordering::SeqCst);
}

/// Makes SIGTERM and SIGINT set the stop flag instead of ending the process.
pub fn stop_on_signals() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        install(signal, request_stop)?;
    }
    Ok(())
}

/// Makes SIGHUP ask for a reload instead of ending the process.
pub fn reload_on_sighup() -> io::Result<()> {
    install(libc::SIGHUP, request_reload)
}

/// Whether SIGHUP came since the last call.
pub fn take_hangup() -> bool {
    HANGUP.swap(false, Ordering::SeqCst)
}

fn install(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) -> io::Result<()> {
    // SAFETY: every handler here only stores to an atomic (async-signal-safe). Without
    // SA_RESTART, a blocking poll(2) returns EINTR at once and sees the flag.
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut())
    };
    if installed != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether a stop was asked for.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
