//! `/proc/cpuinfo`: the CPU's model and flags.

/// The text of `/proc/cpuinfo`; empty when it cannot be read.
pub fn read() -> String {
    std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

/// The first CPU's model name (x86's `model name`, ARM's `Model`, …); empty when none is given.
pub fn model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            matches!(
                key.trim(),
                "model name" | "Model" | "cpu model" | "Processor"
            )
            .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Whether a `flags` line lists `flag` (`hypervisor`, …).
pub fn has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == flag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_flags() {
        let text = "processor\t: 0\nmodel name\t: Some CPU @ 2GHz\nflags\t\t: fpu hypervisor sse\n";
        assert_eq!(model(text), "Some CPU @ 2GHz");
        assert!(has_flag(text, "hypervisor"));
        assert!(!has_flag(text, "vmx"));
        assert_eq!(model(""), "");
    }
}
