//! The `.deb` of `scripts/build-deb`: it installs into a throwaway root (the binary, the
//! agent's unit, the default config dir), its unit passes `systemd-analyze verify`, the
//! installed agent starts from the default config, and it removes cleanly.

use std::process::Command;

use crate::sandbox::Sandbox;

#[test]
fn the_deb_installs_in_a_throwaway_root_and_its_unit_verifies() {
    let sandbox = Sandbox::new();
    let out = sandbox.shared().join("deb");
    let built = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-deb"))
        .arg(&out)
        .env("DRIFTLESS_BIN", env!("CARGO_BIN_EXE_driftless"))
        .env("DRIFTLESS_DEB_COMPRESSION", "none")
        .output()
        .expect("run scripts/build-deb");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8_lossy(&built.stdout).trim().to_owned();
    assert!(deb.ends_with(".deb"), "{deb}");
    let fields = sandbox.sh_ok(&format!("dpkg-deb -f {deb} Package Depends"));
    assert!(fields.contains("Package: driftless"), "{fields}");
    sandbox.sh_ok(&format!("dpkg -i {deb}"));
    let status = sandbox.sh_ok("dpkg-query -W -f '${Status} ${Conffiles}' driftless");
    assert!(status.starts_with("install ok installed"), "{status}");
    assert!(status.contains("/etc/driftless/agent.yaml"), "{status}");
    // systemd-analyze verify fails (exit 1) on a bad directive, a missing ExecStart binary or
    // an unknown [Install] target; warnings alone print to stderr.
    let verify = sandbox
        .sh("systemd-analyze verify /lib/systemd/system/driftless-agent.service 2>&1; echo rc=$?");
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(said.trim_end().ends_with("rc=0"), "{said}");
    assert!(
        !said.contains("driftless-agent.service:"),
        "unit warnings: {said}"
    );
    // The installed binary checks the default config it ships.
    let checked = sandbox.sh_ok("/usr/bin/driftless -c /etc/driftless check && echo ok");
    assert!(checked.contains("ok"), "{checked}");
    // Installed in the root only: the host has no such files.
    assert!(sandbox.upper().join("usr/bin/driftless").is_file());
    // (/lib is /usr/lib on a merged-/usr root.)
    assert!(["lib", "usr/lib"].iter().any(|lib| {
        sandbox
            .upper()
            .join(lib)
            .join("systemd/system/driftless-agent.service")
            .is_file()
    }));
    // Removed cleanly, its conffile kept until purge.
    sandbox.sh_ok("dpkg -r driftless");
    sandbox.sh_ok("test ! -e /usr/bin/driftless && test -e /etc/driftless/agent.yaml");
    sandbox.sh_ok("dpkg -P driftless && test ! -e /etc/driftless/agent.yaml");
}
