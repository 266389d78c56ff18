//! `package` with the real apt and dpkg, in throwaway roots: small `.deb`s built here with
//! `dpkg-deb` (two versions of one package, a package depending on one that does not exist),
//! served from a local `file:` repository that is the root's only apt source. The test
//! machine's own packages are never touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{self, World};
use crate::sandbox::Sandbox;

/// The packages of the test repository: name, version, what it depends on.
const PACKAGES: &[(&str, &str, Option<&str>)] = &[
    ("dltest-a", "1.0", None),
    ("dltest-a", "2.0", None),
    ("dltest-b", "1.0", None),
    ("dltest-c", "1.0", None),
    ("dltest-broken", "1.0", Some("dltest-missing")),
];

/// The repository, built once per test binary: the `.deb`s and their `Packages` index.
fn repository() -> &'static Path {
    static REPO: OnceLock<PathBuf> = OnceLock::new();
    REPO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("repo temp dir").keep();
        let repo = dir.join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        for (name, version, depends) in PACKAGES {
            build_deb(&dir, &repo, name, version, *depends);
        }
        let index = Command::new("dpkg-scanpackages")
            .args(["--multiversion", ".", "/dev/null"])
            .current_dir(&repo)
            .output()
            .expect("run dpkg-scanpackages");
        assert!(
            index.status.success(),
            "{}",
            String::from_utf8_lossy(&index.stderr)
        );
        common::write(&repo.join("Packages"), &index.stdout);
        repo
    })
}

fn build_deb(work: &Path, repo: &Path, name: &str, version: &str, depends: Option<&str>) {
    let tree = work.join(format!("{name}_{version}"));
    let depends = depends.map_or(String::new(), |d| format!("Depends: {d}\n"));
    common::write(
        &tree.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: driftless tests \
             <tests@example.invalid>\n{depends}Description: driftless test package\n"
        )
        .as_bytes(),
    );
    common::write(
        &tree.join(format!("usr/share/{name}/version")),
        format!("{version}\n").as_bytes(),
    );
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&tree)
        .arg(repo.join(format!("{name}_{version}_all.deb")))
        .output()
        .expect("run dpkg-deb");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// A throwaway root whose only apt source is the test repository, indexed; `apt-get` and
/// `apt-cache` replaced by wrappers that log each call to `/var/log/driftless-test-calls`
/// and run the real program.
fn root_with_repository() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.serve_apt_repository(repository());
    sandbox.sh_ok(
        "set -e
         for program in apt-get apt-cache; do
           mv /usr/bin/$program /usr/bin/$program.real
           printf '#!/bin/sh\\necho \"%s $*\" >> /var/log/driftless-test-calls\\nexec /usr/bin/%s.real \"$@\"\\n' \
             $program $program > /usr/bin/$program
           chmod 755 /usr/bin/$program
         done",
    );
    sandbox
}

/// The calls of `program` logged in the root since the last [`forget_calls`].
fn calls(sandbox: &Sandbox, program: &str) -> Vec<String> {
    sandbox
        .sh_ok("cat /var/log/driftless-test-calls 2>/dev/null || true")
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(program))
        .map(str::to_owned)
        .collect()
}

fn forget_calls(sandbox: &Sandbox) {
    sandbox.sh_ok("rm -f /var/log/driftless-test-calls");
}

/// The version of `name` installed in the root, if any.
fn installed(sandbox: &Sandbox, name: &str) -> Option<String> {
    let out = sandbox.sh_ok(&format!(
        "dpkg-query -W -f '${{Status}}|${{Version}}' {name} 2>/dev/null || true"
    ));
    let (status, version) = out.split_once('|')?;
    (status == "install ok installed").then(|| version.to_owned())
}

fn package(name: &str, extra: &str) -> String {
    format!("apply:\n  - type: package\n    name: {name}\n{extra}")
}

fn show(world: &World, plan: &Path) -> String {
    let run = world.run(&["show", &plan.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout + &run.stderr
}

#[test]
fn present_installs_the_candidate_the_plan_names_and_a_second_apply_changes_nothing() {
    let sandbox = root_with_repository();
    let world = World::in_sandbox(&package("dltest-a", ""), &sandbox);
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.package:dltest-a");
    assert_eq!(node["action"], "create");
    assert_eq!(
        node["before"]["packages"]["dltest-a"]["installed"],
        serde_json::Value::Null
    );
    assert_eq!(node["after"]["packages"]["dltest-a"], "2.0");
    assert!(show(&world, &plan_path).contains("install dltest-a 2.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.package:dltest-a").as_deref(),
        Some("changed")
    );
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("2.0"));
    assert!(
        !Path::new("/usr/share/dltest-a").exists(),
        "the host was changed"
    );
    forget_calls(&sandbox);
    world.assert_converged();
    assert!(
        calls(&sandbox, "apt-cache").is_empty(),
        "an installed package's candidate decides nothing: apt is not asked"
    );
    let again = world.apply();
    assert_eq!(
        again.status_of("apply.package:dltest-a").as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );
}

#[test]
fn a_pinned_version_installs_latest_upgrades_and_a_lower_pin_downgrades() {
    let sandbox = root_with_repository();
    let world = World::in_sandbox(&package("dltest-a", "    version: \"1.0\"\n"), &sandbox);
    world.apply();
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("1.0"));
    world.assert_converged();

    world.set_config(&package("dltest-a", "    state: latest\n"));
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.package:dltest-a"), "update");
    assert!(show(&world, &plan_path).contains("upgrade dltest-a from 1.0 to 2.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("2.0"));
    world.assert_converged();

    world.set_config(&package("dltest-a", "    version: \"1.0\"\n"));
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("downgrade dltest-a from 2.0 to 1.0"));
    world.execute(&plan_path, &[]);
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("1.0"));
    world.assert_converged();
}

#[test]
fn absent_removes_an_installed_package_and_is_a_no_op_for_one_not_installed() {
    let sandbox = root_with_repository();
    sandbox.sh_ok("DEBIAN_FRONTEND=noninteractive apt-get.real install -y -q dltest-b >/dev/null");
    let world = World::in_sandbox(
        &package(
            "[dltest-b]",
            "    state: absent\n  - type: package\n    name: dltest-c\n    state: absent\n",
        ),
        &sandbox,
    );
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.package:dltest-b"), "delete");
    assert_eq!(common::action(&plan, "apply.package:dltest-c"), "no-op");
    assert!(show(&world, &plan_path).contains("remove dltest-b 1.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(installed(&sandbox, "dltest-b"), None);
    world.assert_converged();
}

#[test]
fn plan_and_dry_run_change_nothing_and_observe_with_one_query() {
    let sandbox = root_with_repository();
    let world = World::in_sandbox(
        "apply:\n  - type: package\n    name: [dltest-a, dltest-b]\n  - type: package\n    name: dltest-c\n    state: latest\n",
        &sandbox,
    );
    forget_calls(&sandbox);
    world.plan();
    assert_eq!(
        calls(&sandbox, "apt-cache").len(),
        1,
        "one query for all packages"
    );
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        calls(&sandbox, "apt-get").is_empty(),
        "{:?}",
        calls(&sandbox, "apt-get")
    );
    for name in ["dltest-a", "dltest-b", "dltest-c"] {
        assert_eq!(installed(&sandbox, name), None);
    }
}

#[test]
fn a_package_installed_out_of_band_after_the_plan_makes_it_stale() {
    let sandbox = root_with_repository();
    let world = World::in_sandbox(&package("dltest-a", ""), &sandbox);
    let (plan_path, _) = world.plan();
    sandbox
        .sh_ok("DEBIAN_FRONTEND=noninteractive apt-get.real install -y -q dltest-a=1.0 >/dev/null");
    forget_calls(&sandbox);
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.package:dltest-a")
            && run
                .stderr
                .contains("dltest-a was not installed and is now 1.0"),
        "{}",
        run.all()
    );
    assert!(calls(&sandbox, "apt-get").is_empty(), "nothing ran");
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("1.0"));
}

#[test]
fn the_ready_package_tasks_of_a_run_are_one_transaction() {
    let sandbox = root_with_repository();
    sandbox.sh_ok("DEBIAN_FRONTEND=noninteractive apt-get.real install -y -q dltest-b >/dev/null");
    let world = World::in_sandbox(
        "apply:
  - type: package
    name: dltest-a
    version: \"1.0\"
  - type: package
    name: dltest-b
    state: absent
  - type: package
    name: dltest-c
",
        &sandbox,
    );
    let (plan_path, _) = world.plan();
    forget_calls(&sandbox);
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let transactions = calls(&sandbox, "apt-get");
    assert_eq!(transactions.len(), 1, "{transactions:?}");
    for part in ["dltest-a=1.0", "dltest-b-", "dltest-c=1.0"] {
        assert!(transactions[0].contains(part), "{transactions:?}");
    }
    // Installed versions come from dpkg's status file; apt is asked once, before anything
    // changes, for the one candidate that decides something (dltest-c's).
    assert_eq!(calls(&sandbox, "apt-cache").len(), 1);
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("1.0"));
    assert_eq!(installed(&sandbox, "dltest-b"), None);
    assert_eq!(installed(&sandbox, "dltest-c").as_deref(), Some("1.0"));
    world.assert_converged();
}

#[test]
fn a_failing_transaction_fails_its_nodes_with_apts_message_and_the_rest_go_on() {
    let sandbox = root_with_repository();
    let world = World::in_sandbox(
        "apply:
  - type: package
    name: dltest-broken
  - type: file
    path: /etc/driftless-package-neighbour
    content: \"still written\\n\"
",
        &sandbox,
    );
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        run.status_of("apply.package:dltest-broken").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.file:/etc/driftless-package-neighbour")
            .as_deref(),
        Some("changed")
    );
    assert!(run.all().contains("apt-get failed"), "{}", run.all());
    let report = world.reports().pop().expect("a run report");
    let text = report.to_string();
    assert!(
        text.contains("apt-get failed") && text.contains("broken packages"),
        "{text}"
    );
    assert_eq!(installed(&sandbox, "dltest-broken"), None);
    assert_eq!(
        sandbox.sh_ok("cat /etc/driftless-package-neighbour"),
        "still written\n"
    );
}

#[test]
fn update_cache_refreshes_the_index_before_the_transaction_and_cache_valid_time_spares_it() {
    let sandbox = root_with_repository();
    let world = World::in_sandbox(&package("dltest-a", "    update_cache: true\n"), &sandbox);
    let (plan_path, plan) = world.plan();
    assert_eq!(
        common::node(&plan, "apply.package:dltest-a")["after"]["refresh_cache"],
        true
    );
    let shown = show(&world, &plan_path);
    assert!(
        shown.contains("refresh the apt package index first")
            && shown.contains("install dltest-a 2.0"),
        "{shown}"
    );
    forget_calls(&sandbox);
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let apt_get = calls(&sandbox, "apt-get");
    assert_eq!(apt_get.len(), 2, "{apt_get:?}");
    assert!(apt_get[0].ends_with("update") && apt_get[1].contains("dltest-a=2.0"));
    assert_eq!(installed(&sandbox, "dltest-a").as_deref(), Some("2.0"));

    // Without `cache_valid_time` a refresh is due every time: planned as `run`.
    assert_eq!(
        common::action(&world.plan().1, "apply.package:dltest-a"),
        "run"
    );
    // Refreshed just now: within an hour, nothing is due.
    world.set_config(&package("dltest-a", "    cache_valid_time: 1h\n"));
    world.assert_converged();
}
