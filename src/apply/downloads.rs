//! The download family: `get_url`. A node's `before` is the file at `dest` as observed (a
//! file-family [`FsState`]); its `after` is a [`Download`]: what is fetched from where, and
//! the file it leaves (with the checksum's SHA-256 as its hash when there is one).
//!
//! Nothing is downloaded when planning, but a checksum file named by URL. With a checksum the
//! file there is compared with it; without one, an existing file is kept unless `force`.
//! `execute` streams the body into a temp file in `dest`'s directory (at most `max_size`
//! bytes), hashes it on the way, and renames it over `dest` only when the checksum matches,
//! in the directory the precondition check walked to, never following a link.

mod http;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
    SENSITIVE,
};
use super::files::{self, attributes, refuse_non_file, refuse_symlink};
use super::fs_state::{self, EntryKind, FsState, Observed, Place};
use super::get_url::{Checksum, GetUrlTask};
use crate::error::ResourceError;
use crate::fsutil::walk::Walked;
use crate::model::{ApplySpec, ApplyTask};
use crate::printable::escape;

/// How long a transfer may take when the task gives no `timeout`.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
/// The largest download when the task gives no `max_size`: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
/// The largest checksum file read.
const MAX_CHECKSUM_FILE: u64 = 1 << 20;

/// What a `get_url` node does, as plan.json records it in `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub url: String,
    /// The file left at `dest`: its hash is the checksum's when the file is fetched with
    /// one, what is there when it is kept, none when fetched without a checksum.
    pub file: FsState,
    /// The file is downloaded by this node.
    pub fetch: bool,
    /// The SHA-256 the download must have (from `checksum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// The checksum file it came from, when `checksum` names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// As a duration is written: `30s`, `10m`.
    pub timeout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    pub max_size: u64,
    /// Without a checksum: download although a file is there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

impl Download {
    fn decode(recorded: &Recorded, address: &str) -> Result<Download, String> {
        let json = recorded
            .as_json()
            .ok_or_else(|| format!("{address}: `after` is not a download's"))?;
        Download::deserialize(json).map_err(|e| format!("{address}: unreadable `after`: {e}"))
    }

    fn timeout(&self) -> Result<std::time::Duration, String> {
        crate::model::values::Duration::parse(&self.timeout)
            .map(|d| d.0)
            .ok_or_else(|| format!("`{}` is not a duration", self.timeout))
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The download as plan.json shows it (secret header values hidden), and its mask.
    fn redacted(&self, secret_headers: &[String]) -> (Download, Value) {
        let mut shown = self.clone();
        for name in secret_headers {
            shown.headers.insert(name.clone(), SENSITIVE.to_owned());
        }
        let mask = mask_of(&shown);
        (shown, mask)
    }
}

/// `true` at each `(sensitive)` header value; `false` when none is.
fn mask_of(download: &Download) -> Value {
    let hidden: serde_json::Map<String, Value> = download
        .headers
        .iter()
        .filter(|(_, v)| *v == SENSITIVE)
        .map(|(k, _)| (k.clone(), Value::Bool(true)))
        .collect();
    if hidden.is_empty() {
        Value::Bool(false)
    } else {
        json!({ "headers": hidden })
    }
}

fn get_url(task: &ApplyTask) -> Result<&GetUrlTask, String> {
    match &task.spec {
        ApplySpec::GetUrl(t) => Ok(t),
        _ => Err("not a get_url task".to_owned()),
    }
}

/// The SHA-256 a checksum names: its hex, or the line of the checksum file that names the
/// downloaded file (by the URL's or `dest`'s file name), or its only hash.
fn expected_sha256(
    task: &GetUrlTask,
    timeout: std::time::Duration,
    headers: &[(String, String)],
) -> Result<Option<(String, Option<String>)>, String> {
    let Some(checksum) = &task.checksum else {
        return Ok(None);
    };
    match Checksum::parse(&checksum.value)? {
        Checksum::Sha256(hex) => Ok(Some((hex, None))),
        Checksum::Sha256Url(url) => {
            let request = http::Get {
                url: &url,
                headers,
                timeout,
                ca_file: task.ca_file.as_ref().map(|c| c.value.as_str()),
            };
            let body = http::get_small(&request, MAX_CHECKSUM_FILE)
                .map_err(|e| format!("cannot read the checksum file: {e}"))?;
            let text = String::from_utf8_lossy(&body);
            let names = [file_name(&task.url.value), file_name(&task.dest.value)];
            find_checksum(&text, &names)
                .map(|hex| Some((hex, Some(url.clone()))))
                .ok_or_else(|| format!("the checksum file {url} has no sha256 for {}", names[0]))
        }
    }
}

fn file_name(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.rsplit('/').next().unwrap_or(path)
}

/// In `sha256sum` output (`<hex>  <name>`, `<hex> *<name>`), the hash of one of `names`; or
/// the file's only hash when it names no file.
fn find_checksum(text: &str, names: &[&str]) -> Option<String> {
    let is_hex = |w: &str| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit());
    let mut only = None;
    let mut hashes = 0;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(hash) = words.next().filter(|w| is_hex(w)) else {
            continue;
        };
        hashes += 1;
        match words.next() {
            Some(name) => {
                let name = name.trim_start_matches('*').trim_start_matches("./");
                if names.contains(&name) {
                    return Some(hash.to_ascii_lowercase());
                }
            }
            None => only = Some(hash.to_ascii_lowercase()),
        }
    }
    only.filter(|_| hashes == 1)
}

/// The task's deadline and headers (values as rendered, secrets included).
fn request_of(task: &GetUrlTask) -> (std::time::Duration, Vec<(String, String)>) {
    let timeout = task.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.value.0);
    let headers = task
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    (timeout, headers)
}

/// Whether the task's download replaces a file whose SHA-256 is `there` (`None`: no file):
/// what an extraction of that file waits for.
pub fn replaces(task: &GetUrlTask, there: Option<&str>) -> Result<bool, String> {
    let (timeout, headers) = request_of(task);
    Ok(match expected_sha256(task, timeout, &headers)? {
        Some((sum, _)) => there != Some(sum.as_str()),
        None => there.is_none() || task.force,
    })
}

/// What the task wants, from what is at `dest`, and which header values are secrets.
fn wanted(task: &GetUrlTask, observed: &Observed) -> Result<(Download, Vec<String>), String> {
    let dest = &task.dest.value;
    refuse_symlink(observed, dest)?;
    refuse_non_file(observed, dest)?;
    let (timeout, headers) = request_of(task);
    let expected = expected_sha256(task, timeout, &headers)?;
    let there = observed.state.state == EntryKind::File;
    let fetch = match &expected {
        Some((sum, _)) => observed.state.sha256.as_deref() != Some(sum.as_str()),
        None => !there || task.force,
    };
    let mut file = FsState::absent(dest);
    file.state = EntryKind::File;
    match (&expected, fetch) {
        (Some((sum, _)), _) => file.sha256 = Some(sum.clone()),
        (None, false) => file.sha256 = observed.state.sha256.clone(),
        (None, true) => {}
    }
    if !fetch {
        file.size = observed.state.size;
    }
    attributes(&mut file, &observed.state, task, 0o644)?;
    let download = Download {
        url: task.url.value.clone(),
        file,
        fetch,
        checksum: expected.as_ref().map(|(sum, _)| sum.clone()),
        checksum_url: expected.and_then(|(_, url)| url),
        headers: headers.into_iter().collect(),
        timeout: crate::model::values::Duration(timeout).to_string(),
        ca_file: task.ca_file.as_ref().map(|c| c.value.clone()),
        max_size: task.max_size.unwrap_or(DEFAULT_MAX_SIZE),
        force: task.force && task.checksum.is_none(),
    };
    let secret = task
        .headers
        .iter()
        .filter(|(_, v)| v.sensitive)
        .map(|(k, _)| k.clone())
        .collect();
    Ok((download, secret))
}

/// The action from what is there and what the download leaves.
fn action_of(before: &FsState, after: &Download) -> Action {
    match (before.state, after.fetch) {
        (EntryKind::Absent, _) => Action::Create,
        (_, true) => Action::Update,
        (_, false) => files::action(before, &after.file),
    }
}

fn plan_one(task: &ApplyTask, walked: &Walked, cx: &PlanContext<'_>) -> Result<NodeStates, String> {
    let task = get_url(task)?;
    let dest = &task.dest.value;
    let observed = fs_state::observe(dest, false, None, walked)
        .map_err(|e| format!("cannot read {dest}: {e}"))?;
    let (download, secret_headers) = wanted(task, &observed)?;
    files::refuse_unmanaged_principals(&download.file, cx.managed)?;
    let before = observed.state.without_content();
    let route = observed.route.digest();
    let (after, after_sensitive) = download.redacted(&secret_headers);
    Ok(NodeStates {
        action: action_of(&before, &download),
        fingerprint: fs_state::fingerprint(&before, &route, true),
        before: Recorded::Json(json!(before)),
        after: Recorded::Json(json!(after)),
        before_sensitive: Value::Bool(false),
        after_sensitive,
        route,
        diff: None,
        chained: false,
    })
}

fn decode_before(node: &NodeView<'_>) -> Result<FsState, String> {
    let json = node
        .before
        .as_json()
        .ok_or_else(|| format!("{}: `before` is not a file state", node.address))?;
    FsState::deserialize(json).map_err(|e| format!("{}: unreadable `before`: {e}", node.address))
}

/// Observes `dest` again and compares it with the plan's fingerprint; the place observed
/// stays open for the write.
fn check_precondition(node: &NodeView<'_>) -> Result<(Observed, Place), String> {
    let download = Download::decode(node.after, node.address)?;
    let path = &download.file.path;
    let (now, place) = fs_state::observe_in_place(path, false, None)
        .map_err(|e| format!("{}: cannot read {path}: {e}", node.address))?;
    if let Err(stale) = fs_state::check_fingerprint(node.fingerprint, &now, true) {
        let change = match stale {
            fs_state::Stale::Changed => {
                fs_state::describe_change(&decode_before(node)?, &now.state)
            }
            fs_state::Stale::UntrustedDirectory(why) => why,
        };
        return Err(format!(
            "{}: {path} changed since the plan ({change})",
            node.address
        ));
    }
    Ok((now, place))
}

/// A node with secret header values: the download rebuilt from the config, which must give
/// what the plan shows.
fn resolve_sensitive(
    node: &NodeView<'_>,
    planned: &Download,
    now: &Observed,
    config: Option<&Recompiled<'_>>,
) -> Result<Download, String> {
    let address = node.address;
    let source = config.ok_or_else(|| {
        format!("{address}: has sensitive values, but no config to render them from")
    })?;
    let task = source
        .tasks
        .get(address)
        .ok_or_else(|| format!("{address}: no longer in the config; make a new plan"))?;
    let (download, secret) = wanted(get_url(task)?, now)?;
    let mut shown = download.redacted(&secret).0;
    // An owner made by an earlier node of the run has an id now; the plan named it only.
    if planned.file.uid.is_none() {
        shown.file.uid = None;
    }
    if planned.file.gid.is_none() {
        shown.file.gid = None;
    }
    if shown != *planned {
        return Err(format!(
            "{address}: the config renders differently than when the plan was made; make a new plan"
        ));
    }
    Ok(download)
}

/// Downloads into a temp file beside `dest`, checks size and checksum, and renames it over
/// `dest`; the old file is left as it was on any failure. Returns the new file's SHA-256.
fn fetch(
    download: &Download,
    want: &FsState,
    place: &Place,
    address: &str,
) -> Result<String, ResourceError> {
    let dest = &want.path;
    let (dir, name) = place.entry().ok_or_else(|| {
        ResourceError::permanent(format!("{address}: the directory of {dest} does not exist"))
    })?;
    let timeout = download.timeout()?;
    let headers = download.headers();
    let request = http::Get {
        url: &download.url,
        headers: &headers,
        timeout,
        ca_file: download.ca_file.as_deref(),
    };
    let mut body = http::get(&request).map_err(|e| prefixed(address, e))?;
    let mut failure: Option<ResourceError> = None;
    let mut sha = String::new();
    let written = crate::fsutil::at::write_with_at(
        dir,
        name,
        want.mode_bits().unwrap_or(0o644),
        (want.uid, want.gid),
        &mut |file| {
            let copied = match crate::fsutil::copy_hashed(&mut body, file, download.max_size) {
                Ok(copied) => copied,
                Err(crate::fsutil::CopyError::Write(e)) => return Err(e),
                Err(crate::fsutil::CopyError::Read(e)) => {
                    failure = Some(http::read_failure(&download.url, timeout, e));
                    return Err(std::io::Error::other("download failed"));
                }
                Err(crate::fsutil::CopyError::TooLarge) => {
                    failure = Some(ResourceError::permanent(format!(
                        "{} is larger than {} bytes (`max_size`); the old file is kept",
                        download.url, download.max_size
                    )));
                    return Err(std::io::Error::other("too large"));
                }
            };
            sha = copied.sha256_hex();
            if let Some(expected) = &download.checksum
                && *expected != sha
            {
                failure = Some(ResourceError::permanent(format!(
                    "the download of {} has sha256 {sha}, but the checksum is {expected}; {dest} is left as it was",
                    download.url
                )));
                return Err(std::io::Error::other("checksum mismatch"));
            }
            Ok(())
        },
    );
    match (written, failure) {
        (_, Some(failure)) => Err(prefixed(address, failure)),
        (Err(e), None) => Err(ResourceError::io(
            format_args!("{address}: cannot write {dest}"),
            &e,
        )),
        (Ok(()), None) => Ok(sha),
    }
}

fn prefixed(address: &str, error: ResourceError) -> ResourceError {
    ResourceError {
        message: format!("{address}: {}", error.message),
        ..error
    }
}

fn run(node: &NodeView<'_>, config: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let (now, place) = check_precondition(node)?;
    let planned = Download::decode(node.after, address)?;
    let download = if node.is_sensitive() {
        resolve_sensitive(node, &planned, &now, config)?
    } else {
        planned
    };
    let mut want = download.file.clone();
    want.resolve_pending_principals()
        .map_err(|e| format!("{address}: {e}"))?;
    if !download.fetch {
        fs_state::converge(&now.state, &want, &place)?;
        return Ok(Ran::CHANGED);
    }
    let sha = fetch(&download, &want, &place, address)?;
    // `force` without a checksum fetches every time: the same bytes again change nothing.
    let same = now.state.state == EntryKind::File
        && now.state.sha256.as_deref() == Some(sha.as_str())
        && files::action(
            &now.state,
            &FsState {
                sha256: Some(sha),
                ..want
            },
        ) == Action::NoOp;
    Ok(Ran {
        changed: !same,
        output: None,
        message: None,
    })
}

pub struct Downloads;

pub static DOWNLOADS: Downloads = Downloads;

impl Family for Downloads {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        use rayon::prelude::*;
        let walked = Walked::default();
        tasks
            .par_iter()
            .map(|&i| (i, plan_one(&all[i], &walked, cx)))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let before = decode_before(node)?;
        let after = Download::decode(node.after, node.address)?;
        if before.path != after.file.path {
            return Err("`before` and `after` are of different paths".to_owned());
        }
        crate::fsutil::check_plain_absolute(&after.file.path)?;
        if !super::get_url::is_http_url(&after.url) {
            return Err(format!("`{}` is not an http(s) URL", after.url));
        }
        after.timeout()?;
        if after.file.state != EntryKind::File || after.file.mode.is_none() {
            return Err("a download's file has no `mode`".to_owned());
        }
        let hex =
            |h: &str| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if let Some(sum) = &after.checksum
            && (!hex(sum) || after.file.sha256.as_deref() != Some(sum.as_str()))
        {
            return Err("its checksum is not 64 hex digits, or not the file's hash".to_owned());
        }
        if node.action != action_of(&before, &after) {
            return Err(format!(
                "its action is `{}`, but its `before` and `after` make it `{}`",
                node.action.as_str(),
                action_of(&before, &after).as_str()
            ));
        }
        if node.fingerprint != fs_state::fingerprint(&before, node.route, true) {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if *node.after_sensitive != mask_of(&after)
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("its sensitivity masks do not match its `after`".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (Ok(after), Ok(before)) = (
            Download::decode(node.after, node.address),
            decode_before(node),
        ) else {
            return Description {
                what: String::new(),
                details: Vec::new(),
                diff_lines: Vec::new(),
            };
        };
        let mut details = Vec::new();
        if after.fetch {
            let verified = match (&after.checksum, &after.checksum_url) {
                (Some(sum), Some(url)) => format!("sha256 {sum}, from {url}"),
                (Some(sum), None) => format!("sha256 {sum}"),
                (None, _) if after.force => "no checksum; `force`: fetched on every run".to_owned(),
                (None, _) => "no checksum".to_owned(),
            };
            details.push(format!("download {} ({verified})", after.url));
            details.push(format!(
                "at most {} bytes, within {}",
                after.max_size, after.timeout
            ));
            if let Some(ca) = &after.ca_file {
                details.push(format!("trusting the CAs of {ca}"));
            }
            for (name, value) in &after.headers {
                details.push(format!("header {name}: {value}"));
            }
        }
        let principal = |name: &Option<String>, id: Option<u32>| match (name, id) {
            (Some(n), Some(id)) => format!("{n} ({id})"),
            (Some(n), None) => n.clone(),
            (None, Some(id)) => id.to_string(),
            (None, None) => "-".to_owned(),
        };
        let file = &after.file;
        let attrs = format!(
            "file, mode {}, owner {}, group {}",
            file.mode.as_deref().unwrap_or("-"),
            principal(&file.owner, file.uid),
            principal(&file.group, file.gid)
        );
        if before.state == EntryKind::Absent
            || before.mode != file.mode
            || before.uid != file.uid
            || before.gid != file.gid
        {
            details.push(attrs);
        }
        Description {
            what: escape(&file.path).into_owned(),
            details: details
                .into_iter()
                .map(|d| Detail::plain(escape(&d).into_owned()))
                .collect(),
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        Download::decode(after, "").ok().map(|d| d.file.path)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        true
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        check_precondition(node).err()
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        run(node, config)
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<super::contract::Change> {
        let (Ok(before), Ok(after)) = (
            decode_before(node),
            Download::decode(node.after, node.address),
        ) else {
            return Vec::new();
        };
        // The file's fields, as the file family reports them; the URL when it is fetched.
        let (before, file) = (Recorded::File(before), Recorded::File(after.file.clone()));
        let unmasked = Value::Bool(false);
        let view = NodeView {
            before: &before,
            after: &file,
            before_sensitive: &unmasked,
            after_sensitive: &unmasked,
            ..*node
        };
        let mut changes = super::contract::field_changes(&view, &["size"]);
        if after.fetch {
            changes.push(super::contract::Change {
                field: "url".to_owned(),
                before: Value::Null,
                after: Value::from(after.url),
            });
        }
        changes
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        let dirs: std::collections::BTreeSet<std::path::PathBuf> = nodes
            .iter()
            .filter_map(|(node, _)| Download::decode(node.after, node.address).ok())
            .filter_map(|d| std::path::Path::new(&d.file.path).parent().map(Into::into))
            .collect();
        for dir in dirs {
            let _ = std::fs::File::open(&dir).and_then(|d| d.sync_all());
            crate::fsutil::remove_stale_temp_files(&dir, run_started);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checksum_file_names_the_download() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let sums = format!("{a}  app-1.0.tar.gz\n{b} *other.zip\n");
        assert_eq!(
            find_checksum(&sums, &["app-1.0.tar.gz", "x"]),
            Some(a.clone())
        );
        assert_eq!(find_checksum(&sums, &["other.zip", "x"]), Some(b));
        assert_eq!(find_checksum(&sums, &["missing", "x"]), None);
        assert_eq!(find_checksum(&format!("{a}\n"), &["y", "x"]), Some(a));
    }
}
