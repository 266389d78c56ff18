//! `pip` with the real pip, into virtualenvs in temp dirs: wheels built here (two versions of
//! one distribution, and one depending on it) in a local directory that pip reads with
//! `--no-index --find-links` (as a user with an offline wheelhouse writes `extra_args`). No
//! network, and no environment of the test machine is touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{self, World};

/// Writes the test wheels into a directory with Python's `zipfile` (a wheel is a zip with a
/// `.dist-info`), once per test binary.
fn wheelhouse() -> &'static Path {
    static WHEELS: OnceLock<PathBuf> = OnceLock::new();
    WHEELS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("wheel dir").keep();
        let script = r#"
import base64, hashlib, sys, zipfile
def wheel(name, version, requires=()):
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = '{version}'\n".encode(),
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
                             + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: driftless-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}"
              for p, b in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(f"{sys.argv[1]}/{name}-{version}-py3-none-any.whl", "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
wheel("dltest_a", "1.0")
wheel("dltest_a", "2.0")
wheel("dltest_b", "1.0", ["dltest-a>=1.0"])
"#;
        let built = Command::new("python3")
            .args(["-c", script])
            .arg(&dir)
            .output()
            .expect("run python3");
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        dir
    })
}

/// A virtualenv made once per test binary; each test gets a copy (`bin/python -m pip` runs in
/// a copy: nothing in it names its own path that pip needs).
fn base_virtualenv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = tempfile::tempdir().expect("venv dir").keep().join("venv");
        let made = Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .expect("run python3 -m venv");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        venv
    })
}

fn copy_virtualenv(world: &World) {
    let copied = Command::new("cp")
        .arg("-a")
        .arg(base_virtualenv())
        .arg(world.path("venv"))
        .status()
        .expect("run cp");
    assert!(copied.success());
}

/// What the world's virtualenv holds: normalized name → version.
fn installed(world: &World) -> std::collections::BTreeMap<String, String> {
    let out = Command::new(world.path("venv/bin/python"))
        .args([
            "-m",
            "pip",
            "list",
            "--format=json",
            "--disable-pip-version-check",
        ])
        .output()
        .expect("run pip list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("pip list JSON");
    list.iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["version"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(name, _)| name.starts_with("dltest"))
        .collect()
}

fn pip(name: &str, extra: &str) -> String {
    format!(
        "apply:\n  - type: pip\n    name: {name}\n    virtualenv: \"{{{{ root }}}}/venv\"\n    extra_args: --no-index --find-links {}\n{extra}",
        wheelhouse().display()
    )
}

fn show(world: &World, plan: &Path) -> String {
    let run = world.run(&["show", &plan.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout + &run.stderr
}

#[test]
fn pip_makes_the_virtualenv_installs_with_dependencies_and_a_second_apply_changes_nothing() {
    let world = World::new(&pip("dltest-b", "    umask: \"0027\"\n"));
    let (plan_path, plan) = world.plan();
    let address = "apply.pip:dltest-b";
    let node = common::node(&plan, address);
    assert_eq!(node["action"], "create", "{node:#}");
    assert_eq!(node["before"]["exists"], false);
    assert_eq!(node["after"]["packages"]["dltest-b"], "1.0");
    assert_eq!(
        node["after"]["packages"]["dltest-a"], "2.0",
        "the dependency pip resolves"
    );
    let shown = show(&world, &plan_path);
    for line in [
        "create the virtualenv",
        "install dltest-a 2.0",
        "install dltest-b 1.0",
    ] {
        assert!(shown.contains(line), "{line}: {shown}");
    }
    assert!(!world.path("venv").exists(), "planning made the virtualenv");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of(address).as_deref(), Some("changed"));
    let now = installed(&world);
    assert_eq!(now.get("dltest-a").map(String::as_str), Some("2.0"));
    assert_eq!(now.get("dltest-b").map(String::as_str), Some("1.0"));
    let module = std::fs::read_dir(world.path("venv/lib"))
        .expect("venv lib")
        .flatten()
        .map(|python| python.path().join("site-packages/dltest_b/__init__.py"))
        .find(|p| p.exists())
        .expect("dltest_b installed");
    assert_eq!(
        common::mode(&module) & 0o777,
        0o640,
        "installed under umask 0027"
    );
    world.assert_converged();
    let again = world.apply();
    assert_eq!(
        again.status_of(address).as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );
}

#[test]
fn pip_pins_a_version_upgrades_to_latest_and_removes() {
    let world = World::new(&pip("dltest-a", "    version: \"1.0\"\n"));
    copy_virtualenv(&world);
    world.apply();
    assert_eq!(
        installed(&world).get("dltest-a").map(String::as_str),
        Some("1.0")
    );
    world.assert_converged();

    world.set_config(&pip("dltest-a", "    state: latest\n"));
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.pip:dltest-a"), "update");
    assert!(show(&world, &plan_path).contains("upgrade dltest-a from 1.0 to 2.0"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        installed(&world).get("dltest-a").map(String::as_str),
        Some("2.0")
    );
    world.assert_converged();

    world.set_config(&pip("\"dltest_a==1.0\"", ""));
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("downgrade dltest-a from 2.0 to 1.0"));
    world.execute(&plan_path, &[]);
    assert_eq!(
        installed(&world).get("dltest-a").map(String::as_str),
        Some("1.0")
    );
    world.assert_converged();

    world.set_config(&pip("[dltest-a, dltest-b]", "    state: absent\n"));
    let (plan_path, plan) = world.plan();
    assert_eq!(
        common::action(&plan, "apply.pip:dltest-a,dltest-b"),
        "delete"
    );
    let shown = show(&world, &plan_path);
    assert!(shown.contains("remove dltest-a 1.0"), "{shown}");
    assert!(
        shown.contains("dltest-b not installed, unchanged"),
        "{shown}"
    );
    world.execute(&plan_path, &[]);
    assert!(installed(&world).is_empty());
    world.assert_converged();
}

#[test]
fn pip_plan_and_dry_run_change_nothing_and_a_stale_plan_is_refused() {
    let world = World::new(&pip("dltest-a", ""));
    copy_virtualenv(&world);
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.pip:dltest-a"), "create");
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        installed(&world).is_empty(),
        "a dry run installed something"
    );

    let by_hand = Command::new(world.path("venv/bin/python"))
        .args(["-m", "pip", "install", "-q", "--no-index", "--find-links"])
        .arg(wheelhouse())
        .arg("dltest-a==1.0")
        .status()
        .expect("run pip");
    assert!(by_hand.success());
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.pip:dltest-a")
            && run
                .stderr
                .contains("dltest-a was not installed and is now 1.0"),
        "{}",
        run.all()
    );
    assert_eq!(
        installed(&world).get("dltest-a").map(String::as_str),
        Some("1.0"),
        "nothing ran"
    );
}

#[test]
fn pip_installs_a_requirements_file_and_refuses_what_it_cannot_plan() {
    let world = World::new(&format!(
        "apply:\n  - type: pip\n    requirements: requirements.txt\n    chdir: \"{{{{ root }}}}\"\n    virtualenv: \"{{{{ root }}}}/venv\"\n    extra_args: --no-index --find-links {}\n",
        wheelhouse().display()
    ));
    copy_virtualenv(&world);
    common::write(
        &world.path("requirements.txt"),
        b"dltest-a==1.0\ndltest-b\n",
    );
    let (plan_path, _) = world.plan();
    let shown = show(&world, &plan_path);
    assert!(
        shown.contains("install dltest-a 1.0") && shown.contains("install dltest-b 1.0"),
        "{shown}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(installed(&world).len(), 2);
    world.assert_converged();

    // The file changed after the plan: the plan no longer says what the config asks for.
    common::write(&world.path("requirements.txt"), b"dltest-a==2.0\n");
    let (plan_path, _) = world.plan();
    common::write(&world.path("requirements.txt"), b"dltest-a==1.0\n");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("the files the plan read changed"),
        "{}",
        run.all()
    );

    world.set_config(&pip(
        "\"dltest-a; rm -rf /\"",
        "    state: forcereinstall\n",
    ));
    let check = world.run(&["check"]);
    assert_ne!(check.code, 0);
    assert!(check.stderr.contains("main.yaml:"), "{}", check.all());
    assert!(
        check.stderr.contains("environment marker"),
        "{}",
        check.all()
    );
    assert!(check.stderr.contains("forcereinstall"), "{}", check.all());
}

#[test]
fn pip_and_npm_tasks_of_one_config_are_planned_and_run_by_their_own_families() {
    let world = World::new(&format!(
        "{}  - type: npm\n    name: {}\n    path: \"{{{{ root }}}}/app\"\n",
        pip("dltest-a", ""),
        crate::execute_npm::tarball("1.0.0")
    ));
    copy_virtualenv(&world);
    let (plan_path, _) = world.plan();
    let shown = show(&world, &plan_path);
    assert!(
        shown.contains("(pip in ") && shown.contains("(npm in "),
        "{shown}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        installed(&world).get("dltest-a").map(String::as_str),
        Some("2.0")
    );
    assert!(
        world
            .path("app/node_modules/dltest-a/package.json")
            .exists()
    );
    world.assert_converged();
}
