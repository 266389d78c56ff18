//! `verify_commits: true` with real GnuPG signatures: a throwaway keyring (its own
//! `GNUPGHOME`, given to the committer and to the agent), a commit signed with its key is
//! applied, an unsigned one after it is refused, reported and counted, and the signed one
//! stays.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::agent_support::{AgentWorld, wait_until};

/// Time for one 1 s interval (fetch, verify, check, switch, cycle) on a loaded machine.
const ONE_INTERVAL: Duration = Duration::from_secs(6);

/// A GnuPG home with one signing key and no passphrase; its agent is ended when dropped.
struct Keyring {
    home: PathBuf,
    fingerprint: String,
}

impl Keyring {
    fn new(home: &Path) -> Keyring {
        std::fs::create_dir_all(home).expect("mkdir gnupg");
        std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod gnupg");
        // Made first, so that its drop ends the gpg agent however the set-up ends.
        let mut keyring = Keyring {
            home: home.to_path_buf(),
            fingerprint: String::new(),
        };
        let generated = keyring.gpg(&[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Fleet Signer <signer@example.com>",
            "ed25519",
            "sign",
            "never",
        ]);
        assert!(generated.status.success(), "{generated:?}");
        let listed = keyring.gpg(&["--batch", "--with-colons", "--list-secret-keys"]);
        assert!(listed.status.success(), "{listed:?}");
        keyring.fingerprint = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|rest| rest.trim_matches(':').to_owned())
            .expect("the new key's fingerprint");
        keyring
    }

    fn gpg(&self, args: &[&str]) -> std::process::Output {
        Command::new("/usr/bin/gpg")
            .env("GNUPGHOME", &self.home)
            .args(args)
            .output()
            .expect("gpg")
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "all"])
            .status();
    }
}

#[test]
fn a_signed_commit_is_applied_and_an_unsigned_one_refused_reported_and_counted() {
    let mut world = AgentWorld::new();
    let keyring = Keyring::new(&world.base.join("gnupg"));
    world.env = vec![("GNUPGHOME".to_owned(), keyring.home.display().to_string())];
    let sign = format!("-S{}", keyring.fingerprint);
    let signed = world.push_committing(
        "main",
        &[("config.yaml", &world.motd_config("signed\n"))],
        &[&sign],
    );
    world.own_config(&world.git_agent(", verify_commits: true"), "");
    let agent = world.start();
    assert!(
        wait_until(ONE_INTERVAL * 2, || world.motd() == "signed\n"),
        "the signed commit was not applied: {}",
        agent.log()
    );
    let unsigned = world.push("main", &[("config.yaml", &world.motd_config("unsigned\n"))]);
    assert!(
        wait_until(ONE_INTERVAL, || world
            .metric("driftless_commit_verification_failures_total", &[])
            == Some(1.0)),
        "the unsigned commit was not counted: {}",
        agent.log()
    );
    assert!(wait_until(ONE_INTERVAL, || !world
        .audit_documents("refused-commit")
        .is_empty()));
    let refused = world.audit_documents("refused-commit");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["origin"]["commit"], unsigned.as_str());
    let error = refused[0]["error"].as_str().unwrap_or("");
    assert!(error.contains("not signed by a trusted key"), "{error}");
    // The signed commit stays current and keeps being applied; check never saw the other.
    std::fs::write(world.root.join("motd"), "edited\n").expect("edit");
    assert!(wait_until(ONE_INTERVAL, || world.motd() == "signed\n"));
    assert_eq!(
        world.metric("driftless_config_info", &[("commit", &signed)]),
        Some(1.0)
    );
    assert_eq!(
        world.metric("driftless_config_check_failures_total", &[]),
        Some(0.0)
    );
    let current = std::fs::read_link(world.state.join("source/current")).expect("current");
    assert!(current.ends_with(&signed), "{current:?}");
    // Refused once, not again at every fetch.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        world.metric("driftless_commit_verification_failures_total", &[]),
        Some(1.0)
    );
}
