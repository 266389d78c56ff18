//! `examples/webserver` converges a real nginx in a throwaway root with systemd as PID 1: the
//! package from a local repository holding Debian's nginx `.deb`s (no network), the service
//! user and group, the site's files owned by them, the app's release downloaded from a server
//! in the root (checksum-verified) and unpacked, a certificate made once by a guarded command,
//! a deploy user with its SSH key, a cron.d job, a sysctl, nginx enabled and restarted only
//! when its config changes. The plan is reviewed (`show`) before it is executed, and a second
//! run changes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::World;
use crate::deps::test_deps;
use crate::sandbox::Sandbox;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webserver");

/// Debian's nginx packages (from `scripts/install-test-deps`), indexed.
fn nginx_repository() -> PathBuf {
    let deps = test_deps(&["repo"]);
    let repo = tempfile::tempdir().expect("repo").keep();
    for entry in std::fs::read_dir(deps.join("repo")).expect("read repo") {
        let entry = entry.expect("repo entry");
        std::fs::copy(entry.path(), repo.join(entry.file_name())).expect("copy .deb");
    }
    let index = Command::new("dpkg-scanpackages")
        .args([".", "/dev/null"])
        .current_dir(&repo)
        .output()
        .expect("run dpkg-scanpackages");
    assert!(
        index.status.success(),
        "{}",
        String::from_utf8_lossy(&index.stderr)
    );
    std::fs::write(repo.join("Packages"), &index.stdout).expect("Packages");
    repo
}

/// The example's config dir, copied into the world (with `-e` for a second variant).
fn copy_example(into: &Path) {
    for (from, to) in [
        ("webserver.yaml", "webserver.yaml"),
        ("templates/index.html.j2", "templates/index.html.j2"),
        ("templates/site.conf.j2", "templates/site.conf.j2"),
        ("release/shop-1.0.tar.gz", "release/shop-1.0.tar.gz"),
    ] {
        let to = into.join(to);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(Path::new(EXAMPLE).join(from), to).expect("copy example");
    }
}

/// The example's `release/` served where its `app_url` points, as its comment says.
fn serve_releases(sandbox: &Sandbox, config: &Path) {
    sandbox.sh_ok(&format!(
        "systemd-run --quiet --unit shop-releases python3 -m http.server --bind 127.0.0.1 \
           --directory {} 8000 && \
         for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:8000/ && exit 0; \
           sleep 0.05; done; exit 1",
        config.join("release").display()
    ));
}

fn fetch(sandbox: &Sandbox, url: &str) -> String {
    sandbox.sh_ok(&format!("curl -sk --max-time 5 {url}"))
}

#[test]
fn the_webserver_example_converges_a_real_nginx_and_a_second_run_changes_nothing() {
    let sandbox = Sandbox::boot();
    sandbox.serve_apt_repository(&nginx_repository());
    let world = World::in_sandbox("", &sandbox);
    // The example as it is, beside the audit settings of the world.
    std::fs::remove_file(world.config.join("main.yaml")).expect("rm main.yaml");
    std::fs::write(
        world.config.join("audit.yaml"),
        format!(
            "settings:\n  audit:\n    - type: directory\n      path: \"{}\"\n",
            world.audit.display()
        ),
    )
    .expect("audit settings");
    copy_example(&world.config);
    serve_releases(&sandbox, &world.config);

    // Reviewed first: the plan says what will happen, and shows the handler apart.
    let (plan, json) = world.plan();
    let show = world.run(&["show", plan.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    for expected in [
        "install nginx",
        "create user shop",
        "start and enable nginx.service",
        "download http://127.0.0.1:8000/shop-1.0.tar.gz (sha256 8d749424",
        "create user deploy",
        "net.core.somaxconn",
        "Handlers, run only when a task notifying them changes something:",
    ] {
        assert!(
            show.stdout.contains(expected),
            "show lacks {expected:?}:\n{}",
            show.stdout
        );
    }
    assert_eq!(json["summary"]["handlers"], 1, "{json}");

    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.restart-nginx").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    let page = fetch(&sandbox, "http://127.0.0.1:8080/");
    assert!(page.contains("<h1>shop</h1>"), "{page}");
    assert!(fetch(&sandbox, "https://127.0.0.1:8443/").contains("<h1>shop</h1>"));
    // The site's files belong to the service user made in the same run.
    assert_eq!(
        sandbox.sh_ok("stat -c %U:%G /srv/shop/index.html"),
        "shop:shop\n"
    );
    assert_eq!(sandbox.sh_ok("systemctl is-enabled nginx"), "enabled\n");
    // The app's release, unpacked beside the pages and served.
    assert_eq!(
        fetch(&sandbox, "http://127.0.0.1:8080/app/VERSION"),
        "1.0\n"
    );
    assert_eq!(
        sandbox.sh_ok("stat -c %U:%G /srv/shop/app/app.js"),
        "shop:shop\n"
    );
    assert_eq!(
        sandbox.sh_ok("cat /etc/cron.d/shop"),
        "# driftless: prune old releases\n\
         @daily root find /var/cache/shop -name '*.tar.gz' -mtime +30 -delete\n"
    );
    assert_eq!(
        sandbox.sh_ok(
            "stat -c '%U %a' /home/deploy/.ssh /home/deploy/.ssh/authorized_keys && \
             cat /home/deploy/.ssh/authorized_keys"
        ),
        "deploy 700\ndeploy 600\n\
         ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDVp+33u9JKsLPU4bY9UgkxaTvW1zVc973mkboua//mb \
         deploy@ci\n"
    );
    assert_eq!(
        sandbox.sh_ok("cat /proc/sys/net/core/somaxconn /etc/sysctl.d/60-shop.conf"),
        "4096\nnet.core.somaxconn = 4096\n"
    );

    // A second run: nothing to change, the guarded command skipped, no restart.
    let pid = sandbox.sh_ok("systemctl show -p MainPID --value nginx");
    let again = world.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(
        again.status_of("apply.restart-nginx").as_deref(),
        Some("skipped"),
        "{}",
        again.all()
    );
    assert_eq!(
        sandbox.sh_ok("systemctl show -p MainPID --value nginx"),
        pid
    );

    // A config change restarts nginx, and only then.
    let run = world.run(&["-e", "port=8081", "apply"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.restart-nginx").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_ne!(
        sandbox.sh_ok("systemctl show -p MainPID --value nginx"),
        pid
    );
    assert!(fetch(&sandbox, "http://127.0.0.1:8081/").contains("<h1>shop</h1>"));
}
