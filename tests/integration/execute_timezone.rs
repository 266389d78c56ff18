//! `timezone` in a throwaway root ([`HeldRoot`]): its `/usr/share/zoneinfo` is the test
//! machine's (the overlay's read-only lower layer), `/etc/localtime` and `/etc/timezone` land
//! in the overlay's upper directory. Create, update, no-op, a second apply that changes
//! nothing, dry runs, stale plans and a zone that does not exist.

use crate::common;
use crate::held_root::HeldRoot;

fn timezone(name: &str) -> String {
    format!("apply:\n  - {{type: timezone, name: {name}}}\n")
}

fn machine_zone() -> (Option<std::path::PathBuf>, Option<String>) {
    (
        std::fs::read_link("/etc/localtime").ok(),
        std::fs::read_to_string("/etc/timezone").ok(),
    )
}

/// The root's `/etc/localtime` link target, and what `date` says the zone is.
fn link_and_date(root: &HeldRoot) -> (String, String) {
    (
        root.sh_ok("readlink /etc/localtime").trim().to_owned(),
        root.sh_ok("date +%Z -d @0").trim().to_owned(),
    )
}

#[test]
fn set_update_and_nothing_twice() {
    let machine = machine_zone();
    let root = HeldRoot::new(&timezone("Europe/Berlin"));
    let world = &root.world;
    root.sh_ok(
        "ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime && printf 'Etc/UTC\\n' > /etc/timezone",
    );

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains("time zone: Etc/UTC → Europe/Berlin"),
        "{}",
        dry.all()
    );
    assert_eq!(
        link_and_date(&root),
        ("/usr/share/zoneinfo/Etc/UTC".to_owned(), "UTC".to_owned())
    );

    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.timezone");
    assert_eq!(node["action"], "update", "{node:#}");
    assert_eq!(node["before"]["zone"], "Etc/UTC");
    assert_eq!(node["after"]["zone"], "Europe/Berlin");
    assert_eq!(
        node["after"]["localtime"]["target"],
        "/usr/share/zoneinfo/Europe/Berlin"
    );
    assert!(
        node["diff"]
            .as_str()
            .is_some_and(|d| d.contains("-Etc/UTC\n+Europe/Berlin")),
        "{node:#}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.timezone").as_deref(), Some("changed"));
    assert_eq!(
        link_and_date(&root),
        (
            "/usr/share/zoneinfo/Europe/Berlin".to_owned(),
            "CET".to_owned()
        )
    );
    assert_eq!(
        root.file("/etc/timezone").as_deref(),
        Some("Europe/Berlin\n")
    );
    world.assert_converged();

    // Only the link drifted (as systemd makes it, relative, to another zone): the link alone.
    root.sh_ok("ln -sfn ../usr/share/zoneinfo/Asia/Tokyo /etc/localtime");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.timezone");
    assert_eq!(node["action"], "update");
    assert_eq!(node["before"]["zone"], "Asia/Tokyo");
    assert!(node["diff"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(link_and_date(&root).1, "CET");

    // A relative link naming the wanted zone is kept as it is.
    root.sh_ok("ln -sfn ../usr/share/zoneinfo/Europe/Berlin /etc/localtime");
    let (_, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.timezone"), "no-op");

    // A new zone; a copy of a zone file at /etc/localtime is replaced by a link.
    root.sh_ok("rm /etc/localtime && cp /usr/share/zoneinfo/Europe/Berlin /etc/localtime");
    world.set_config(&timezone("Asia/Tokyo"));
    let dry = world.run(&["apply", "--dry-run"]);
    assert!(
        dry.stdout
            .contains("replace the file /etc/localtime with a link"),
        "{}",
        dry.all()
    );
    world.apply();
    assert_eq!(
        link_and_date(&root),
        (
            "/usr/share/zoneinfo/Asia/Tokyo".to_owned(),
            "JST".to_owned()
        )
    );
    assert_eq!(root.file("/etc/timezone").as_deref(), Some("Asia/Tokyo\n"));
    world.assert_converged();

    assert_eq!(machine_zone(), machine, "the test machine's zone changed");
}

#[test]
fn missing_files_are_created() {
    let root = HeldRoot::new(&timezone("UTC"));
    let world = &root.world;
    root.sh_ok("rm -f /etc/localtime /etc/timezone");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.timezone");
    assert_eq!(node["action"], "create", "{node:#}");
    assert!(node["before"]["zone"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(link_and_date(&root).0, "/usr/share/zoneinfo/UTC");
    assert_eq!(root.file("/etc/timezone").as_deref(), Some("UTC\n"));
    world.assert_converged();
}

#[test]
fn a_plan_whose_link_or_file_changed_is_refused() {
    let root = HeldRoot::new(&timezone("Europe/Berlin"));
    let world = &root.world;
    root.sh_ok(
        "ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime && printf 'Etc/UTC\\n' > /etc/timezone",
    );
    let (plan_path, _) = world.plan();
    root.sh_ok("ln -sfn /usr/share/zoneinfo/Asia/Tokyo /etc/localtime");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.timezone")
            && run.stderr.contains("/etc/localtime changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(root.file("/etc/timezone").as_deref(), Some("Etc/UTC\n"));

    let (plan_path, _) = world.plan();
    root.sh_ok("printf 'Europe/Paris\\n' > /etc/timezone");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.timezone"), "{}", run.all());
    assert_eq!(
        link_and_date(&root).0,
        "/usr/share/zoneinfo/Asia/Tokyo",
        "a refused plan changed the link"
    );
}

#[test]
fn a_zone_that_does_not_exist_is_a_plan_error() {
    let root = HeldRoot::new(&timezone("Mars/Olympus_Mons"));
    let run = root.world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains(
            "there is no time zone Mars/Olympus_Mons here (/usr/share/zoneinfo/Mars/Olympus_Mons is not a zone file)"
        ),
        "{}",
        run.all()
    );
    // A file of the zoneinfo directory that is no zone.
    root.world.set_config(&timezone("zone1970.tab"));
    let run = root.world.run(&["plan"]);
    assert!(
        run.stderr.contains("there is no time zone zone1970.tab"),
        "{}",
        run.all()
    );
}
