//! node_exporter's request filters: `/metrics?collect[]=cpu&collect[]=meminfo` runs only those
//! collectors, `?exclude[]=…` all but those; both at once, or an unknown collector in
//! `collect[]`, is a `400` with node_exporter's message. The names are those the gatherer
//! gives in `node_scrape_collector_success{collector=…}`. driftless's own metrics
//! (`driftless_*`, `process_*`) stay, as node_exporter keeps its exporter metrics.

use super::collectors::Selection;

/// Reads the query string (after `?`) against the collectors there are; `Err` holds the
/// `400` answer's body.
pub fn select(query: &str, enabled: &[&str]) -> Result<Selection, String> {
    let mut collect = Vec::new();
    let mut exclude = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "collect[]" => collect.push(value.into_owned()),
            "exclude[]" => exclude.push(value.into_owned()),
            _ => {}
        }
    }
    match (collect.is_empty(), exclude.is_empty()) {
        (true, true) => Ok(Selection::all()),
        (false, false) => Err("Combined collect and exclude queries are not allowed.".to_owned()),
        (false, true) => {
            if let Some(unknown) = collect.iter().find(|c| !enabled.contains(&c.as_str())) {
                return Err(format!(
                    "Couldn't create filtered metrics handler: couldn't create collector: missing collector: {unknown}"
                ));
            }
            Ok(Selection::only(collect))
        }
        // As node_exporter: unknown names in `exclude[]` are ignored.
        (true, false) => Ok(Selection::excluding(exclude)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENABLED: &[&str] = &["cpu", "meminfo", "loadavg"];

    #[test]
    fn collect_and_exclude_select_as_node_exporter() {
        assert_eq!(select("", ENABLED), Ok(Selection::all()));
        let collected = select("collect%5B%5D=cpu&collect[]=meminfo", ENABLED).unwrap();
        assert!(collected.wants("cpu") && collected.wants("meminfo"));
        assert!(!collected.wants("loadavg"));
        let excluded = select("exclude[]=cpu&exclude[]=nope", ENABLED).unwrap();
        assert!(!excluded.wants("cpu"));
        assert!(excluded.wants("loadavg") && excluded.wants("meminfo"));
        assert_eq!(
            select("collect[]=nope", ENABLED),
            Err("Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope".to_owned())
        );
        assert_eq!(
            select("collect[]=cpu&exclude[]=meminfo", ENABLED),
            Err("Combined collect and exclude queries are not allowed.".to_owned())
        );
    }
}
