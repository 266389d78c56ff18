//! `driftless facts` printing once: built-in facts (JSON, YAML), metrics (text 0.0.4 and
//! OpenMetrics) checked by the real `promtool`, values against `/proc`, no duplicate series,
//! label escaping, the command collector's timeout, thresholds, and the textfile push.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::facts_support::*;

fn facts(args: &[&str]) -> std::process::Output {
    Command::new(driftless())
        .arg("facts")
        .args(args)
        .output()
        .expect("run driftless facts")
}

fn metrics(args: &[&str]) -> String {
    let out = facts(args);
    assert!(
        out.status.success(),
        "driftless facts {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn builtin_facts_print_as_json_and_yaml() {
    let out = facts(&["--no-config"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON facts");
    for key in [
        "hostname",
        "fqdn",
        "machine_id",
        "arch",
        "kernel",
        "boot_time",
        "uptime_seconds",
    ] {
        assert!(json.get(key).is_some(), "missing {key}: {json}");
    }
    assert_eq!(
        json["memory"]["total_bytes"].as_f64(),
        Some(proc_mem_total())
    );
    assert!(json["os"]["codename"].is_string());
    assert!(json["virtualization"]["type"].is_string());
    assert!(json["swap"]["total_bytes"].is_u64());
    assert_eq!(
        json["mounts"]["/"]["size_bytes"].as_f64(),
        Some(statfs_size("/"))
    );
    let lo = &json["interfaces"]["lo"];
    assert!(
        lo["ipv4"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["address"] == "127.0.0.1")),
        "{lo}"
    );
    assert!(json["cpu"]["model"].is_string());

    let yaml = String::from_utf8(facts(&["--format", "yaml"]).stdout).expect("utf-8");
    assert!(yaml.contains("machine_id:"), "{yaml}");
    assert!(yaml.contains("total_bytes:"), "{yaml}");
}

#[test]
fn promtool_accepts_text_and_openmetrics() {
    for format in ["prometheus", "openmetrics"] {
        let text = metrics(&["--no-config", "--format", format]);
        let (code, output) = promtool_check(&text);
        // 0 clean, 3 style warnings only (node_exporter's own output gets 3); 1 is an error.
        assert!(
            code == 0 || code == 3,
            "promtool check metrics ({format}) exited {code}: {output}"
        );
        // A parse error reads "error while linting: …"; lint lines name metrics, some of
        // which (node_timex_pps_error_total) contain the word.
        assert!(
            !output.lines().any(|l| l.starts_with("error")),
            "{format}: {output}"
        );
    }
    let om = metrics(&["--no-config", "--format", "openmetrics"]);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE node_cpu_seconds counter\n"));
    let text = metrics(&["--no-config", "--format", "prometheus"]);
    assert!(text.contains("# TYPE node_cpu_seconds_total counter\n"));
    assert!(!text.contains("# EOF"));
}

#[test]
fn no_series_appears_twice() {
    for format in ["prometheus", "openmetrics"] {
        let text = metrics(&["--no-config", "--format", format]);
        let mut seen = HashSet::new();
        for s in samples(&text) {
            let key = format!("{}{:?}", s.name, s.labels);
            assert!(
                seen.insert(key.clone()),
                "duplicate series {key} ({format})"
            );
        }
        let mut families = HashSet::new();
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            assert!(families.insert(line.to_owned()), "family twice: {line}");
        }
        assert!(seen.len() > 100, "only {} series", seen.len());
    }
}

#[test]
fn values_agree_with_proc() {
    let text = metrics(&["--no-config", "--format", "prometheus"]);
    let samples = samples(&text);
    let mem = find(&samples, "node_memory_MemTotal_bytes", &[]).expect("MemTotal");
    assert_eq!(mem.value, proc_mem_total());
    let cpus: HashSet<&str> = samples
        .iter()
        .filter(|s| s.name == "node_cpu_seconds_total")
        .filter_map(|s| {
            s.labels
                .iter()
                .find(|(k, _)| k == "cpu")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert_eq!(cpus.len(), proc_cpu_count());
    let root = find(
        &samples,
        "node_filesystem_size_bytes",
        &[("mountpoint", "/")],
    )
    .expect("root filesystem");
    assert_eq!(root.value, statfs_size("/"));
    for name in [
        "node_load1",
        "node_boot_time_seconds",
        "node_uname_info",
        "node_os_info",
        "node_network_receive_bytes_total",
        "node_disk_read_bytes_total",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "driftless_build_info",
        "driftless_collector_success",
    ] {
        assert!(samples.iter().any(|s| s.name == name), "missing {name}");
    }
    let failed: Vec<_> = samples
        .iter()
        .filter(|s| s.name == "driftless_collector_success" && s.value != 1.0)
        .collect();
    assert!(failed.is_empty(), "collectors failed: {failed:?}");
}

#[test]
fn label_values_are_escaped() {
    let prom_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        prom_dir.path().join("escape.prom"),
        "# HELP driftless_test_escape A label with \\\\ and \\n in help.\n\
         # TYPE driftless_test_escape gauge\n\
         driftless_test_escape{path=\"say \\\"hi\\\" C:\\\\dir\\nnext\"} 1\n",
    )
    .expect("write textfile");
    std::fs::write(prom_dir.path().join("broken.prom"), "not a metric line\n")
        .expect("write broken textfile");
    let config = config_dir(&format!(
        "facts:\n  - type: textfile\n    directory: {}\n",
        prom_dir.path().display()
    ));
    for format in ["prometheus", "openmetrics"] {
        let text = metrics(&[
            "-c",
            config.path().to_str().expect("utf-8 path"),
            "--format",
            format,
        ]);
        assert!(
            text.contains(r#"driftless_test_escape{path="say \"hi\" C:\\dir\nnext"} 1"#),
            "{text}"
        );
        let parsed = samples(&text);
        let s = find(&parsed, "driftless_test_escape", &[]).expect("escaped series");
        assert_eq!(s.labels[0].1, "say \"hi\" C:\\dir\nnext");
        assert_eq!(
            find(&parsed, "node_textfile_scrape_error", &[]).map(|s| s.value),
            Some(1.0),
            "the broken file is reported"
        );
        let (code, output) = promtool_check(&text);
        assert!(code == 0 || code == 3, "promtool {code}: {output}");
    }
}

#[test]
fn a_hanging_command_collector_is_killed_at_its_timeout() {
    let config = config_dir(
        "facts:\n\
         \x20 - type: command\n    id: slow\n    command: [sleep, \"60\"]\n    timeout: 500ms\n\
         \x20 - type: command\n    id: stats\n    command: [echo, '{\"queue\": 7, \"nested\": {\"ok\": true} }']\n    format: json\n",
    );
    let started = Instant::now();
    let text = metrics(&[
        "-c",
        config.path().to_str().expect("utf-8 path"),
        "--format",
        "prometheus",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let parsed = samples(&text);
    let success = |id: &str| {
        find(&parsed, "driftless_command_success", &[("collector", id)]).map(|s| s.value)
    };
    assert_eq!(success("slow"), Some(0.0));
    assert_eq!(success("stats"), Some(1.0));
    assert_eq!(
        find(
            &parsed,
            "driftless_collector_success",
            &[("collector", "slow")]
        )
        .map(|s| s.value),
        Some(0.0)
    );
    assert_eq!(
        find(
            &parsed,
            "driftless_command_value",
            &[("collector", "stats"), ("key", "nested.ok")]
        )
        .map(|s| s.value),
        Some(1.0)
    );
    // No `sleep 60` left behind.
    let ps = Command::new("pgrep")
        .args(["-f", "^sleep 60$"])
        .output()
        .expect("pgrep");
    assert!(ps.stdout.is_empty(), "sleep survived its timeout");
}

#[test]
fn thresholds_raise_events_and_unknown_values_are_refused() {
    let config = config_dir(
        "facts:\n  - type: memory\n    thresholds:\n      used_ratio: { warn: 0.0, critical: 2.0 }\n",
    );
    let out = Command::new(driftless())
        .args(["-c", config.path().to_str().expect("utf-8")])
        .args(["facts", "--format", "prometheus"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("threshold reached"), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed = samples(&text);
    assert_eq!(
        find(
            &parsed,
            "driftless_threshold_state",
            &[("collector", "memory"), ("value", "used_ratio")]
        )
        .map(|s| s.value),
        Some(1.0)
    );
    assert_eq!(
        find(
            &parsed,
            "driftless_threshold_events_total",
            &[("collector", "memory"), ("level", "warning")]
        )
        .map(|s| s.value),
        Some(1.0)
    );

    let bad =
        config_dir("facts:\n  - type: disk\n    thresholds:\n      used_ratoi: { warn: 0.8 }\n");
    let out = Command::new(driftless())
        .args(["-c", bad.path().to_str().expect("utf-8")])
        .args(["facts", "--format", "prometheus"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no value `used_ratoi`"), "{stderr}");
    assert!(stderr.contains("used_ratio"), "{stderr}");
}

#[test]
fn textfile_push_writes_atomically_for_node_exporter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = facts(&[
        "--no-config",
        "--textfile",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["driftless.prom".to_owned()]);
    let text = std::fs::read_to_string(dir.path().join("driftless.prom")).expect("read");
    let (code, output) = promtool_check(&text);
    assert!(code == 0 || code == 3, "promtool {code}: {output}");
    assert!(text.contains("node_load1 "));
    assert!(!text.contains("process_cpu_seconds_total"));
    assert!(!text.contains("node_scrape_collector_success"));
}

#[test]
fn serving_without_an_address_says_how_to_set_one() {
    let out = facts(&["--no-config", "--serve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("settings"));
}
