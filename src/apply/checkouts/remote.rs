//! What `version` names on the remote, asked with `git ls-remote` (nothing is fetched): a
//! branch, a tag (peeled to its commit) or, given as a full commit id, that commit as is.

use super::git_cli::Git;
use crate::apply::git::is_commit_id;

/// The commit a version names, and how it is fetched and checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The ref fetched (`refs/heads/main`, `refs/tags/v1.2`); `None`: the commit is fetched
    /// by its id.
    pub ref_name: Option<String>,
    pub commit: String,
    /// The branch the checkout is left on; `None`: HEAD is detached at the commit (a tag, a
    /// commit id).
    pub branch: Option<String>,
}

/// Resolves `version` (`None`: the remote's HEAD) on `repo`; `shown` is how messages name
/// the repository (`(sensitive)` for a secret).
pub fn resolve(
    git: &Git<'_>,
    repo: &str,
    shown: &str,
    version: Option<&str>,
) -> Result<Resolved, String> {
    let version = version.filter(|v| *v != "HEAD");
    if let Some(commit) = version.filter(|v| is_commit_id(v)) {
        return Ok(Resolved {
            ref_name: None,
            commit: commit.to_owned(),
            branch: None,
        });
    }
    let Some(version) = version else {
        let listing = ls_remote(git, shown, &["--symref", "--", repo, "HEAD"])?;
        return remote_head(&listing).ok_or_else(|| {
            format!("{shown} has no HEAD commit (an empty repository?): give a `version`")
        });
    };
    let patterns = [
        format!("refs/heads/{version}"),
        format!("refs/tags/{version}"),
        format!("refs/tags/{version}^{{}}"),
        version.to_owned(),
        format!("{version}^{{}}"),
    ];
    let mut args = vec!["--", repo];
    args.extend(patterns.iter().map(String::as_str));
    let listing = ls_remote(git, shown, &args)?;
    named(&listing, version).ok_or_else(|| {
        format!("`version` `{version}` is not a branch or tag of {shown} (nor a full commit id)")
    })
}

fn ls_remote(git: &Git<'_>, shown: &str, args: &[&str]) -> Result<String, String> {
    let mut full = vec!["ls-remote"];
    full.extend_from_slice(args);
    git.output(&format!("cannot list the refs of {shown}"), &full)
        .map_err(|e| e.message)
}

/// `(commit, ref)` pairs of `ls-remote` output, `ref: …` lines left out.
fn refs(listing: &str) -> impl Iterator<Item = (&str, &str)> {
    listing.lines().filter_map(|line| {
        let (commit, name) = line.split_once('\t')?;
        is_commit_id(commit).then_some((commit, name))
    })
}

/// The remote's HEAD from `ls-remote --symref REPO HEAD`: its branch when it names one.
fn remote_head(listing: &str) -> Option<Resolved> {
    let commit = refs(listing)
        .find(|(_, name)| *name == "HEAD")?
        .0
        .to_owned();
    let target = listing.lines().find_map(|line| {
        let rest = line.strip_prefix("ref: ")?;
        let (target, name) = rest.split_once('\t')?;
        (name == "HEAD").then_some(target)
    });
    let branch = target.and_then(|t| t.strip_prefix("refs/heads/"));
    Some(Resolved {
        ref_name: branch.map(|b| format!("refs/heads/{b}")),
        commit,
        branch: branch.map(str::to_owned),
    })
}

/// What `version` names in a listing: a branch first (as Ansible's module), then a tag
/// (peeled to the commit it tags), then a full ref name (`refs/pull/7/head`).
fn named(listing: &str, version: &str) -> Option<Resolved> {
    let find = |wanted: &str| {
        refs(listing)
            .find(|(_, name)| *name == wanted)
            .map(|(commit, _)| commit.to_owned())
    };
    let branch = format!("refs/heads/{version}");
    if let Some(commit) = find(&branch) {
        return Some(Resolved {
            ref_name: Some(branch),
            commit,
            branch: Some(version.to_owned()),
        });
    }
    let tag = format!("refs/tags/{version}");
    let full = version.starts_with("refs/").then_some(version);
    for name in std::iter::once(tag.as_str()).chain(full) {
        let commit = find(&format!("{name}^{{}}")).or_else(|| find(name));
        if let Some(commit) = commit {
            return Some(Resolved {
                ref_name: Some(name.to_owned()),
                commit,
                branch: None,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn a_branch_wins_over_a_tag_and_a_tag_is_peeled() {
        let listing = format!("{A}\trefs/tags/v1\n{B}\trefs/tags/v1^{{}}\n");
        let tag = named(&listing, "v1").expect("tag");
        assert_eq!((tag.commit.as_str(), tag.branch), (B, None));
        assert_eq!(tag.ref_name.as_deref(), Some("refs/tags/v1"));
        let both = format!("{listing}{A}\trefs/heads/v1\n");
        let branch = named(&both, "v1").expect("branch");
        assert_eq!(branch.commit, A);
        assert_eq!(branch.branch.as_deref(), Some("v1"));
        assert_eq!(named(&listing, "v2"), None);
    }

    #[test]
    fn the_remote_head_names_its_branch() {
        let listing = format!("ref: refs/heads/main\tHEAD\n{A}\tHEAD\n");
        let head = remote_head(&listing).expect("head");
        assert_eq!(head.branch.as_deref(), Some("main"));
        assert_eq!(head.commit, A);
        let detached = remote_head(&format!("{A}\tHEAD\n")).expect("head");
        assert_eq!((detached.branch, detached.ref_name), (None, None));
        assert_eq!(remote_head(""), None);
    }
}
