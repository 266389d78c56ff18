//! node_exporter's request filters: `/metrics?collect[]=cpu&collect[]=meminfo` runs only those
//! collectors, `?exclude[]=…` all but those; both at once, or an unknown collector in
//! `collect[]`, is a `400` with node_exporter's message. The names are those the gatherer
//! gives in `node_scrape_collector_success{collector=…}`. driftless's own metrics
//! (`driftless_*`, `process_*`) stay, as node_exporter keeps its exporter metrics.

use std::collections::BTreeSet;

/// The collectors a request asks for: `None` for all of them.
pub type Selection = Option<BTreeSet<String>>;

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
        (true, true) => Ok(None),
        (false, false) => Err("Combined collect and exclude queries are not allowed.".to_owned()),
        (false, true) => {
            if let Some(unknown) = collect.iter().find(|c| !enabled.contains(&c.as_str())) {
                return Err(format!(
                    "Couldn't create filtered metrics handler: couldn't create collector: missing collector: {unknown}"
                ));
            }
            Ok(Some(collect.into_iter().collect()))
        }
        // As node_exporter: the enabled collectors less those named; unknown names are
        // ignored.
        (true, false) => Ok(Some(
            enabled
                .iter()
                .filter(|c| !exclude.iter().any(|e| e == *c))
                .map(|c| (*c).to_owned())
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENABLED: &[&str] = &["cpu", "meminfo", "loadavg"];

    #[test]
    fn collect_and_exclude_select_as_node_exporter() {
        assert_eq!(select("", ENABLED), Ok(None));
        assert_eq!(
            select("collect%5B%5D=cpu&collect[]=meminfo", ENABLED),
            Ok(Some(BTreeSet::from([
                "cpu".to_owned(),
                "meminfo".to_owned()
            ])))
        );
        assert_eq!(
            select("exclude[]=cpu&exclude[]=nope", ENABLED),
            Ok(Some(BTreeSet::from([
                "loadavg".to_owned(),
                "meminfo".to_owned()
            ])))
        );
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
