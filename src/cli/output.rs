//! Writing to stdout and stderr without ever panicking: `print!` panics when the reader went
//! away (`driftless show plan.json | head`). Output that cannot be written is dropped; the
//! work it reports on goes on (a run's report is written whether its lines could be or not).

/// `print!`, dropping what a closed stdout cannot take.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!`, dropping what a closed stdout cannot take.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprint!`, dropping what a closed stderr cannot take.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprintln!`, dropping what a closed stderr cannot take.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub(crate) use {err, errln, out, outln};
