//! `mount` in a throwaway root with a mount namespace of its own ([`HeldRoot`]): a tmpfs
//! mounted at a directory of the root is mounted in that namespace only, and `/etc/fstab`
//! lands in the root's overlay. Mounted (the mount point made), options changed (a remount),
//! unmounted (fstab kept), present (fstab only), absent (line removed and unmounted), a
//! second apply that changes nothing, dry runs and stale plans.

use crate::common;
use crate::held_root::HeldRoot;

const POINT: &str = "/srv/driftless-mnt";
const FSTAB_START: &str = "# a comment the edits keep\nproc /proc proc defaults 0 0\n";

fn mount(fields: &str) -> String {
    format!("apply:\n  - {{id: data, type: mount, path: {POINT}, {fields}}}\n")
}

fn tmpfs(state: &str, opts: &str) -> String {
    mount(&format!(
        "src: tmpfs, fstype: tmpfs, opts: \"{opts}\", state: {state}"
    ))
}

/// The root's mount table line for the mount point, if it is mounted.
fn mounted(root: &HeldRoot) -> Option<String> {
    let out = root.sh_ok(&format!("grep ' {POINT} ' /proc/self/mounts || true"));
    (!out.is_empty()).then_some(out)
}

fn fstab(root: &HeldRoot) -> String {
    root.file("/etc/fstab").unwrap_or_default()
}

fn new_root(config: &str) -> HeldRoot {
    let root = HeldRoot::new(config);
    root.sh_ok(&format!(
        "printf '{}' > /etc/fstab && rm -rf {POINT}",
        FSTAB_START.replace('\n', "\\n")
    ));
    root
}

#[test]
fn mounted_remounted_unmounted_present_and_absent() {
    let root = new_root(&tmpfs("mounted", "size=1m"));
    let world = &root.world;

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains(&format!("mount tmpfs (tmpfs, size=1m) on {POINT}"))
            && dry
                .stdout
                .contains(&format!("create mount point directory {POINT}")),
        "{}",
        dry.all()
    );
    assert_eq!(mounted(&root), None);
    assert_eq!(fstab(&root), FSTAB_START);
    assert_eq!(
        root.sh_ok(&format!("test -e {POINT} || echo missing")),
        "missing\n"
    );

    // Mounted: the directory made, the line added, the file system mounted.
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.data");
    assert_eq!(node["action"], "update", "{node:#}");
    assert_eq!(node["after"]["step"], "mount", "{node:#}");
    assert!(node["before"]["mounted"].is_null(), "{node:#}");
    assert!(
        node["diff"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("+tmpfs {POINT} tmpfs size=1m 0 0"))),
        "{node:#}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.data").as_deref(), Some("changed"));
    let line = mounted(&root).expect("mounted");
    assert!(line.contains("size=1024k"), "{line}");
    assert_eq!(
        fstab(&root),
        format!("{FSTAB_START}tmpfs {POINT} tmpfs size=1m 0 0\n")
    );
    world.assert_converged();

    // Other options: the line replaced and the file system remounted.
    world.set_config(&tmpfs("mounted", "size=2m,ro"));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.data");
    assert_eq!(node["after"]["step"], "remount", "{node:#}");
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    let line = mounted(&root).expect("still mounted");
    assert!(
        line.contains("size=2048k") && line.contains(" ro,"),
        "{line}"
    );
    world.assert_converged();

    // Unmounted: the file system unmounted, fstab kept.
    world.set_config(&tmpfs("unmounted", "size=2m,ro"));
    let dry = world.run(&["apply", "--dry-run"]);
    assert!(
        dry.stdout
            .contains(&format!("unmount {POINT} (tmpfs (tmpfs, ro,")),
        "{}",
        dry.all()
    );
    world.apply();
    assert_eq!(mounted(&root), None);
    assert_eq!(
        fstab(&root),
        format!("{FSTAB_START}tmpfs {POINT} tmpfs size=2m,ro 0 0\n")
    );
    world.assert_converged();

    // Present: the line only; the live mount left as it is (not mounted).
    world.set_config(&tmpfs("present", "size=3m"));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.data");
    assert!(node["after"]["step"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(mounted(&root), None);
    assert_eq!(
        fstab(&root),
        format!("{FSTAB_START}tmpfs {POINT} tmpfs size=3m 0 0\n")
    );
    world.assert_converged();

    // Absent: mounted again first; then the line removed and the file system unmounted.
    world.set_config(&tmpfs("mounted", "size=3m"));
    world.apply();
    assert!(mounted(&root).is_some());
    world.set_config(&mount("state: absent"));
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(mounted(&root), None);
    assert_eq!(fstab(&root), FSTAB_START);
    world.assert_converged();
    assert_eq!(
        root.sh_ok(&format!("test -d {POINT} && echo kept")),
        "kept\n",
        "absent leaves the mount point directory"
    );
}

#[test]
fn a_plan_whose_mount_or_fstab_changed_is_refused() {
    let root = new_root(&tmpfs("mounted", "size=1m"));
    let world = &root.world;
    root.sh_ok(&format!("mkdir -p {POINT}"));
    let (plan_path, _) = world.plan();
    root.sh_ok(&format!("mount -t tmpfs -o size=4m meanwhile {POINT}"));
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.data")
            && run.stderr.contains(&format!(
                "what is mounted at {POINT} changed since the plan (nothing mounted → meanwhile (tmpfs,"
            )),
        "{}",
        run.all()
    );
    assert_eq!(fstab(&root), FSTAB_START, "a refused plan wrote fstab");

    let (plan_path, plan) = world.plan();
    assert_eq!(
        common::node(&plan, "apply.data")["after"]["step"],
        "replace",
        "another file system there is replaced"
    );
    root.sh_ok("echo '# edited' >> /etc/fstab");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.data"), "{}", run.all());
    assert!(
        mounted(&root).is_some_and(|l| l.starts_with("meanwhile ")),
        "a refused plan unmounted"
    );
    world.apply();
    assert!(mounted(&root).is_some_and(|l| l.starts_with("tmpfs ")));
    world.assert_converged();
}

#[test]
fn a_mount_point_made_by_a_directory_task_is_made_first() {
    let config = format!(
        "apply:\n  - {{id: data, type: mount, path: {POINT}/inner, src: tmpfs, fstype: tmpfs, state: mounted}}\n  \
         - {{id: dir, type: directory, path: {POINT}/inner, parents: true}}\n"
    );
    let root = new_root(&config);
    let world = &root.world;
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.data");
    assert!(
        node["depends_on"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["address"] == "apply.dir" && d["reason"] == "mount point")),
        "{node:#}"
    );
    assert!(node["after"]["directory"].is_null(), "{node:#}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let line = root.sh_ok(&format!("grep ' {POINT}/inner ' /proc/self/mounts"));
    assert!(line.starts_with("tmpfs "), "{line}");
    world.assert_converged();
}

#[test]
fn two_mounts_edit_one_fstab_in_order() {
    let config = format!(
        "apply:\n  - {{id: a, type: mount, path: {POINT}/a, src: tmpfs, fstype: tmpfs, state: mounted}}\n  \
         - {{id: b, type: mount, path: {POINT}/b, src: tmpfs, fstype: tmpfs, opts: size=1m, state: present}}\n"
    );
    let root = new_root(&config);
    let world = &root.world;
    let (plan_path, plan) = world.plan();
    let b = common::node(&plan, "apply.b");
    assert_eq!(b["precondition"], "chained", "{b:#}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        fstab(&root),
        format!(
            "{FSTAB_START}tmpfs {POINT}/a tmpfs defaults 0 0\ntmpfs {POINT}/b tmpfs size=1m 0 0\n"
        )
    );
    assert!(
        root.sh_ok("cat /proc/self/mounts")
            .contains(&format!(" {POINT}/a "))
    );
    assert!(
        !root
            .sh_ok("cat /proc/self/mounts")
            .contains(&format!(" {POINT}/b "))
    );
    world.assert_converged();
}

#[test]
fn an_edited_step_is_refused_even_resealed() {
    let root = new_root(&tmpfs("mounted", "size=1m"));
    let world = &root.world;
    let (plan_path, mut plan) = world.plan();
    // Mounting turned into unmounting (of whatever is there at execute time).
    let nodes = plan["nodes"].as_array_mut().expect("nodes");
    let node = nodes
        .iter_mut()
        .find(|n| n["address"] == "apply.data")
        .expect("the node");
    node["after"]["step"] = "unmount".into();
    common::reseal(&mut plan);
    std::fs::write(&plan_path, serde_json::to_vec(&plan).expect("json")).expect("write plan");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.data") && run.stderr.contains("`step` does not follow"),
        "{}",
        run.all()
    );
    assert_eq!(fstab(&root), FSTAB_START);
}
