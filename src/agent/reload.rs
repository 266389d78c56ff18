//! SIGHUP as the agent's "reload now" (the other reasons to reload, a change of the config
//! dir and a new commit, are `config_watch` and the source thread).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGHUP once [`reload_on_sighup`] installed the handler.
static HANGUP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_reload(_signal: libc::c_int) {
    HANGUP.store(true, Ordering::SeqCst);
}

/// Makes SIGHUP ask for a reload instead of ending the process.
pub fn reload_on_sighup() -> std::io::Result<()> {
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = request_reload as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGHUP, &action, std::ptr::null_mut())
    };
    if installed != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether SIGHUP came since the last call.
pub fn take_hangup() -> bool {
    HANGUP.swap(false, Ordering::SeqCst)
}
