//! `memory`: node_exporter's `meminfo` and `vmstat` collectors.
//!
//! Every `/proc/meminfo` field as `node_memory_<Field>_bytes` (fields without a unit, such as
//! `HugePages_Total`, keep their bare name), `Active(anon)` written `Active_anon`; and the
//! `/proc/vmstat` fields node_exporter exposes by default (`oom_kill`, `pgpg*`, `pswp*`,
//! `pg*fault*`) as untyped `node_vmstat_<field>`. Threshold values: `used_ratio`
//! (1 − MemAvailable/MemTotal), `swap_used_ratio`, `available_bytes`.

use super::{CollectError, Collector, Output};
use crate::host::{meminfo, procfs};
use crate::metrics::family::Family;

pub const VALUE_NAMES: &[&str] = &["used_ratio", "swap_used_ratio", "available_bytes"];

pub struct MemoryCollector {
    buf: String,
}

impl MemoryCollector {
    pub fn new() -> Self {
        MemoryCollector {
            buf: String::with_capacity(8192),
        }
    }
}

impl Default for MemoryCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// node_exporter's default `--collector.vmstat.fields`: `^(oom_kill|pgpg|pswp|pg.*fault).*`.
fn vmstat_field_wanted(name: &str) -> bool {
    name.starts_with("oom_kill")
        || name.starts_with("pgpg")
        || name.starts_with("pswp")
        || (name.starts_with("pg") && name[2..].contains("fault"))
}

/// `Active(anon)` → `Active_anon`, as node_exporter's `\((.*)\)` → `_$1` rewrite.
fn meminfo_key(raw: &str) -> String {
    match (raw.find('('), raw.rfind(')')) {
        (Some(open), Some(close)) if close > open => {
            format!(
                "{}_{}{}",
                &raw[..open],
                &raw[open + 1..close],
                &raw[close + 1..]
            )
        }
        _ => raw.to_owned(),
    }
}

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &["meminfo", "vmstat"];

impl Collector for MemoryCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        out.part("meminfo", |out| self.meminfo(out));
        out.part("vmstat", |out| self.vmstat(out));
        Ok(())
    }
}

impl MemoryCollector {
    fn meminfo(&mut self, out: &mut Output) -> Result<(), CollectError> {
        meminfo::read_into(&mut self.buf)?;
        let (mut total, mut available, mut swap_total, mut swap_free) = (None, None, None, None);
        for entry in meminfo::entries(&self.buf) {
            let key = meminfo_key(entry.key);
            let (name, value) = if entry.kib {
                (
                    format!("node_memory_{key}_bytes"),
                    entry.value as f64 * 1024.0,
                )
            } else {
                (format!("node_memory_{key}"), entry.value as f64)
            };
            match key.as_str() {
                "MemTotal" => total = Some(value),
                "MemAvailable" => available = Some(value),
                "SwapTotal" => swap_total = Some(value),
                "SwapFree" => swap_free = Some(value),
                _ => {}
            }
            let help = format!(
                "Memory information field {}.",
                &name["node_memory_".len()..]
            );
            out.family(Family::gauge(name, help).with_value(value));
        }
        if let (Some(total), Some(available)) = (total, available) {
            if total > 0.0 {
                out.watch("used_ratio", Vec::new(), 1.0 - available / total);
            }
            out.watch("available_bytes", Vec::new(), available);
        }
        if let (Some(total), Some(free)) = (swap_total, swap_free) {
            out.watch(
                "swap_used_ratio",
                Vec::new(),
                if total > 0.0 { 1.0 - free / total } else { 0.0 },
            );
        }
        Ok(())
    }

    fn vmstat(&mut self, out: &mut Output) -> Result<(), CollectError> {
        procfs::read_into("/proc/vmstat", &mut self.buf)?;
        for line in self.buf.lines() {
            let Some((name, value)) = line.split_once(' ') else {
                continue;
            };
            if !vmstat_field_wanted(name) {
                continue;
            }
            if let Some(value) = procfs::parse_number(value.trim()) {
                out.family(
                    Family::untyped(
                        format!("node_vmstat_{name}"),
                        format!("/proc/vmstat information field {name}."),
                    )
                    .with_value(value),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_node_exporter() {
        assert_eq!(meminfo_key("Active(anon)"), "Active_anon");
        assert_eq!(meminfo_key("MemTotal"), "MemTotal");
        assert!(vmstat_field_wanted("pgmajfault"));
        assert!(vmstat_field_wanted("oom_kill"));
        assert!(!vmstat_field_wanted("nr_free_pages"));
    }
}
