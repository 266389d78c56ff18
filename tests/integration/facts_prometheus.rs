//! A real Prometheus (Debian's package, unpacked by scripts/install-test-deps) scrapes
//! `driftless facts --serve` on loopback: the target is up, known series are queryable through
//! the HTTP API with the values /proc has, and a label with quotes, a backslash and a newline
//! arrives intact.

use crate::facts_support::*;

#[test]
fn prometheus_scrapes_driftless() {
    let prom_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        prom_dir.path().join("escape.prom"),
        "driftless_test_escape{path=\"say \\\"hi\\\" C:\\\\dir\\nnext\"} 42\n",
    )
    .expect("textfile");
    let config = config_dir(&format!(
        "facts:\n  - type: memory\n  - type: cpu\n  - type: disk\n  - type: system\n  - type: textfile\n    directory: {}\n",
        prom_dir.path().display()
    ));
    let (_driftless, target_port) = serve(&["-c", config.path().to_str().expect("utf-8")]);

    let prometheus = Prometheus::start(&format!(
        "  - job_name: driftless\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    ));
    prometheus.wait_until_up("driftless");
    let prom_port = prometheus.port;

    let targets = http(prom_port, "GET", "/api/v1/targets", &[]);
    let targets: serde_json::Value = serde_json::from_slice(&targets.body).expect("targets");
    let active = &targets["data"]["activeTargets"][0];
    assert_eq!(active["health"], "up", "{active}");
    assert_eq!(active["lastError"], "", "{active}");

    let number = |v: &serde_json::Value| -> f64 {
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no value in {v}"))
    };
    let mem = query(prom_port, "node_memory_MemTotal_bytes");
    assert_eq!(number(&mem), proc_mem_total());
    let cpus = query(prom_port, "count(count by (cpu) (node_cpu_seconds_total))");
    assert_eq!(number(&cpus) as usize, proc_cpu_count());
    let root = query(prom_port, "node_filesystem_size_bytes{mountpoint=\"/\"}");
    assert_eq!(number(&root), statfs_size("/"));
    let uname = query(prom_port, "node_uname_info");
    assert_eq!(uname["data"]["result"][0]["metric"]["sysname"], "Linux");

    let escaped = query(prom_port, "driftless_test_escape");
    assert_eq!(
        escaped["data"]["result"][0]["metric"]["path"], "say \"hi\" C:\\dir\nnext",
        "{escaped}"
    );
    assert_eq!(number(&escaped), 42.0);

    // Every series Prometheus stored for this target is unique per scrape (a duplicate would
    // have failed the scrape), and the scrape reported no error.
    let samples = query(prom_port, "scrape_samples_scraped{job=\"driftless\"}");
    assert!(number(&samples) > 50.0);
}
