//! The kernel clock's discipline state: `adjtimex(2)` in read-only mode (`modes` 0), which is
//! what node_exporter's `timex` collector reports.

use std::io;

/// `adjtimex` returns this when the clock is not synchronised.
const TIME_ERROR: libc::c_int = 5;
/// `status` bit: offsets and jitter are in nanoseconds, not microseconds.
const STA_NANO: libc::c_int = 0x2000;

/// The clock state, converted to SI units as node_exporter converts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timex {
    pub synchronised: bool,
    pub offset_seconds: f64,
    pub frequency_adjustment_ratio: f64,
    pub maxerror_seconds: f64,
    pub estimated_error_seconds: f64,
    pub status: f64,
    pub loop_time_constant: f64,
    pub tick_seconds: f64,
    pub pps_frequency_hertz: f64,
    pub pps_jitter_seconds: f64,
    pub pps_shift_seconds: f64,
    pub pps_stability_hertz: f64,
    pub pps_jitter_total: f64,
    pub pps_calibration_total: f64,
    pub pps_error_total: f64,
    pub pps_stability_exceeded_total: f64,
    pub tai_offset_seconds: f64,
}

/// Reads the clock state without changing it.
pub fn read() -> io::Result<Timex> {
    // SAFETY: an all-zero timex is a valid value (modes 0: read only).
    let mut t: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: t is a valid, writable timex for the call's duration.
    let state = unsafe { libc::adjtimex(&mut t) };
    if state < 0 {
        return Err(io::Error::last_os_error());
    }
    // Frequencies are in ppm with a 16-bit fraction (adjtimex(2), NOTES).
    const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
    let divisor = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    Ok(Timex {
        synchronised: state != TIME_ERROR,
        offset_seconds: t.offset as f64 / divisor,
        frequency_adjustment_ratio: 1.0 + t.freq as f64 / PPM16FRAC,
        maxerror_seconds: t.maxerror as f64 / 1e6,
        estimated_error_seconds: t.esterror as f64 / 1e6,
        status: f64::from(t.status),
        loop_time_constant: t.constant as f64,
        tick_seconds: t.tick as f64 / 1e6,
        pps_frequency_hertz: t.ppsfreq as f64 / PPM16FRAC,
        pps_jitter_seconds: t.jitter as f64 / divisor,
        pps_shift_seconds: f64::from(t.shift),
        pps_stability_hertz: t.stabil as f64 / PPM16FRAC,
        pps_jitter_total: t.jitcnt as f64,
        pps_calibration_total: t.calcnt as f64,
        pps_error_total: t.errcnt as f64,
        pps_stability_exceeded_total: t.stbcnt as f64,
        tai_offset_seconds: f64::from(t.tai),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_ticks_at_a_plausible_rate() {
        let t = read().unwrap_or_else(|e| panic!("{e}"));
        // USER_HZ 100 → 10000 µs; any kernel ticks between 1 µs and 1 s.
        assert!(t.tick_seconds > 0.0 && t.tick_seconds < 1.0, "{t:?}");
        assert!((t.frequency_adjustment_ratio - 1.0).abs() < 0.01, "{t:?}");
    }
}
