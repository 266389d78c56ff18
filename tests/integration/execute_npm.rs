//! `npm` with the real npm: package tarballs made here with `npm pack` (two versions of one
//! package) installed into project directories in temp dirs, from a lockfile with `ci`, and
//! into npm's global root inside a throwaway root. No network, and nothing of the test
//! machine's own npm is touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{self, World};
use crate::sandbox::Sandbox;

/// `dltest-a-1.0.0.tgz` and `dltest-a-2.0.0.tgz`, packed once per test binary.
fn tarballs() -> &'static Path {
    static TARBALLS: OnceLock<PathBuf> = OnceLock::new();
    TARBALLS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tarball dir").keep();
        for version in ["1.0.0", "2.0.0"] {
            let source = dir.join(format!("source-{version}"));
            common::write(
                &source.join("package.json"),
                format!("{{\"name\": \"dltest-a\", \"version\": \"{version}\"}}\n").as_bytes(),
            );
            common::write(
                &source.join("index.js"),
                format!("module.exports = '{version}';\n").as_bytes(),
            );
            let packed = Command::new("npm")
                .args(["pack", "--silent", "--pack-destination"])
                .arg(&dir)
                .current_dir(&source)
                .output()
                .expect("run npm pack");
            assert!(
                packed.status.success(),
                "{}",
                String::from_utf8_lossy(&packed.stderr)
            );
        }
        dir
    })
}

pub fn tarball(version: &str) -> String {
    tarballs()
        .join(format!("dltest-a-{version}.tgz"))
        .display()
        .to_string()
}

/// The version of dltest-a in a `node_modules`, if any.
fn installed_in(node_modules: &Path) -> Option<String> {
    let text = std::fs::read_to_string(node_modules.join("dltest-a/package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

fn npm(name: &str, extra: &str) -> String {
    format!("apply:\n  - type: npm\n    name: {name}\n    path: \"{{{{ root }}}}/app\"\n{extra}")
}

fn show(world: &World, plan: &Path) -> String {
    let run = world.run(&["show", &plan.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout + &run.stderr
}

#[test]
fn npm_installs_a_tarball_upgrades_it_removes_it_and_a_second_apply_changes_nothing() {
    let world = World::new(&npm(&tarball("1.0.0"), ""));
    let address = format!("apply.npm:{}", tarball("1.0.0"));
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, &address);
    assert_eq!(node["action"], "create", "{node:#}");
    assert_eq!(node["after"]["packages"]["dltest-a"], "1.0.0");
    let shown = show(&world, &plan_path);
    assert!(shown.contains("install dltest-a 1.0.0"), "{shown}");
    assert!(shown.contains("create the project directory"), "{shown}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of(&address).as_deref(), Some("changed"));
    let modules = world.path("app/node_modules");
    assert_eq!(installed_in(&modules).as_deref(), Some("1.0.0"));
    world.assert_converged();
    let again = world.apply();
    assert_eq!(
        again.status_of(&address).as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );

    world.set_config(&npm(&tarball("2.0.0"), ""));
    let (plan_path, plan) = world.plan();
    assert_eq!(
        common::action(&plan, &format!("apply.npm:{}", tarball("2.0.0"))),
        "update"
    );
    assert!(show(&world, &plan_path).contains("upgrade dltest-a from 1.0.0 to 2.0.0"));
    world.execute(&plan_path, &[]);
    assert_eq!(installed_in(&modules).as_deref(), Some("2.0.0"));
    world.assert_converged();

    world.set_config(&npm("dltest-a", "    state: absent\n"));
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.npm:dltest-a"), "delete");
    assert!(show(&world, &plan_path).contains("remove dltest-a 2.0.0"));
    world.execute(&plan_path, &[]);
    assert_eq!(installed_in(&modules), None);
    world.assert_converged();
}

#[test]
fn npm_plan_and_dry_run_change_nothing_and_a_stale_plan_is_refused() {
    let world = World::new(&npm(&tarball("2.0.0"), ""));
    std::fs::create_dir_all(world.path("app")).expect("mkdir app");
    let (plan_path, _) = world.plan();
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_eq!(installed_in(&world.path("app/node_modules")), None);

    let by_hand = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(world.path("app"))
        .arg(tarball("1.0.0"))
        .status()
        .expect("run npm");
    assert!(by_hand.success());
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains(&format!("apply.npm:{}", tarball("2.0.0")))
            && run
                .stderr
                .contains("dltest-a was not installed and is now 1.0.0"),
        "{}",
        run.all()
    );
    assert_eq!(
        installed_in(&world.path("app/node_modules")).as_deref(),
        Some("1.0.0")
    );
}

#[test]
fn npm_ci_installs_exactly_the_lockfile() {
    // A project whose lockfile pins dltest-a 1.0.0, made by npm itself; node_modules removed.
    let world = World::new("apply:\n  - type: npm\n    path: \"{{ root }}/app\"\n    ci: true\n");
    let app = world.path("app");
    std::fs::create_dir_all(&app).expect("mkdir app");
    let made = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&app)
        .arg(tarball("1.0.0"))
        .status()
        .expect("run npm");
    assert!(made.success());
    std::fs::remove_dir_all(app.join("node_modules")).expect("rm node_modules");
    let (plan_path, plan) = world.plan();
    assert_eq!(
        common::action(&plan, "apply.npm:package-lock.json"),
        "create"
    );
    assert!(show(&world, &plan_path).contains("install dltest-a 1.0.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        installed_in(&app.join("node_modules")).as_deref(),
        Some("1.0.0")
    );
    world.assert_converged();

    // A changed lockfile after the plan makes it stale.
    std::fs::remove_dir_all(app.join("node_modules")).expect("rm node_modules");
    let (plan_path, _) = world.plan();
    let lock = app.join("package-lock.json");
    let text = common::read(&lock);
    common::write(&lock, format!("{text}\n").as_bytes());
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("the files the plan read changed"),
        "{}",
        run.all()
    );
}

#[test]
fn npm_global_installs_into_the_global_root_of_a_throwaway_root() {
    let sandbox = Sandbox::new();
    let shared = sandbox.shared();
    std::fs::create_dir_all(&shared).expect("mkdir shared");
    let packed = shared.join("dltest-a-1.0.0.tgz");
    std::fs::copy(tarball("1.0.0"), &packed).expect("copy tarball");
    let world = World::in_sandbox(
        &format!(
            "apply:\n  - type: npm\n    name: {}\n    global: true\n",
            packed.display()
        ),
        &sandbox,
    );
    let root = sandbox.sh_ok("npm root --global").trim().to_owned();
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("install dltest-a 1.0.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let manifest = sandbox.sh_ok(&format!("cat {root}/dltest-a/package.json"));
    assert!(manifest.contains("\"1.0.0\""), "{manifest}");
    assert!(
        !Path::new(&root).join("dltest-a").exists(),
        "the host's global root was changed"
    );
    world.assert_converged();
}

/// A registry on 127.0.0.1 serving dltest-a 1.0.0 and 2.0.0 (`latest`): its packument and the
/// tarballs, with their integrity.
fn registry() -> crate::http_support::Server {
    use base64::Engine;
    use sha2::{Digest, Sha512};
    let server = crate::http_support::Server::http("unused");
    let mut versions = serde_json::Map::new();
    for version in ["1.0.0", "2.0.0"] {
        let file = format!("dltest-a-{version}.tgz");
        let bytes = std::fs::read(tarball(version)).expect("read tarball");
        let integrity = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes));
        server.put(&file, &bytes);
        versions.insert(
            version.to_owned(),
            serde_json::json!({
                "name": "dltest-a",
                "version": version,
                "dist": {
                    "tarball": server.url(&format!("/files/{file}")),
                    "integrity": format!("sha512-{integrity}"),
                },
            }),
        );
    }
    let packument = serde_json::json!({
        "name": "dltest-a",
        "dist-tags": {"latest": "2.0.0"},
        "versions": versions,
    });
    server.put("dltest-a", packument.to_string().as_bytes());
    server
}

#[test]
fn npm_resolves_latest_from_the_registry_and_pins_versions() {
    let server = registry();
    let from_registry = |extra: &str| {
        npm(
            "dltest-a",
            &format!("    registry: {}\n{extra}", server.url("/files/")),
        )
    };
    let world = World::new(&from_registry(""));
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.npm:dltest-a"), "create");
    assert!(show(&world, &plan_path).contains("install dltest-a 2.0.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let modules = world.path("app/node_modules");
    assert_eq!(installed_in(&modules).as_deref(), Some("2.0.0"));
    world.assert_converged();

    world.set_config(&from_registry("    version: 1.0.0\n"));
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("downgrade dltest-a from 2.0.0 to 1.0.0"));
    world.execute(&plan_path, &[]);
    assert_eq!(installed_in(&modules).as_deref(), Some("1.0.0"));
    world.assert_converged();

    world.set_config(&from_registry("    state: latest\n"));
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("upgrade dltest-a from 1.0.0 to 2.0.0"));
    world.execute(&plan_path, &[]);
    assert_eq!(installed_in(&modules).as_deref(), Some("2.0.0"));
    world.assert_converged();
}
