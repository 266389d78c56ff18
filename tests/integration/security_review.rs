//! The review shows what will run: a plan edited and sealed again (its digest recomputed, as
//! anyone can) is refused by `show` and `execute` when what `show` would print is not what
//! `execute` would do (nodes that do not fit together, paths not written plainly, sensitivity
//! masks the config does not give); `show` prints every attribute `execute` sets, the handlers
//! a node notifies and the `-e` vars; paths are written plainly; every printed value is
//! escaped, so no value prints a line of its own or a terminal control sequence; and `plan -o`
//! writes only a regular file or a new path.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::common::{self, World, refingerprint, reseal, sha256_hex};
use serde_json::Value;

fn node_mut<'p>(plan: &'p mut Value, address: &str) -> &'p mut Value {
    plan["nodes"]
        .as_array_mut()
        .expect("nodes")
        .iter_mut()
        .find(|n| n["address"] == address)
        .unwrap_or_else(|| panic!("no node {address}"))
}

/// Writes `plan` resealed to `path`.
fn write_resealed(path: &Path, mut plan: Value) {
    reseal(&mut plan);
    common::write(
        path,
        serde_json::to_string_pretty(&plan)
            .expect("json")
            .as_bytes(),
    );
}

/// A file whose content is about to change, next to one that is already converged.
fn world_with_an_update() -> World {
    let world = World::new(
        r#"apply:
  - id: motd
    type: file
    path: "{{ root }}/motd"
    content: "welcome\n"
    mode: "0644"
  - id: same
    type: file
    path: "{{ root }}/same"
    content: "same\n"
    mode: "0644"
"#,
    );
    common::write(&world.path("motd"), b"hello\n");
    common::set_mode(&world.path("motd"), 0o644);
    common::write(&world.path("same"), b"same\n");
    common::set_mode(&world.path("same"), 0o644);
    world
}

/// Each edit, resealed, must be refused by `show` and by `execute` with a message naming the
/// node, and the host must be left as it was.
fn assert_refused(world: &World, edit: impl Fn(&mut Value), node: &str, why: &str) {
    let (path, mut plan) = world.plan();
    edit(&mut plan);
    write_resealed(&path, plan);
    let before = common::tree(&world.root);
    let plan_arg = path.to_str().expect("utf-8");
    let show = world.run(&["show", plan_arg]);
    assert_eq!(show.code, 1, "show accepted it ({why}):\n{}", show.all());
    assert!(
        show.stderr.contains("contradicts itself") && show.stderr.contains(node),
        "show's refusal ({why}) does not name {node}:\n{}",
        show.all()
    );
    assert_execute_refused(world, &path, &before, "", why);
}

/// `execute` of the plan at `path` is refused, naming `node` (when given), before it changes
/// anything: the managed root is still `before`.
fn assert_execute_refused(
    world: &World,
    path: &Path,
    before: &std::collections::BTreeMap<String, String>,
    node: &str,
    why: &str,
) {
    let execute = world.execute(path, &[]);
    assert_eq!(
        execute.code,
        1,
        "execute accepted it ({why}):\n{}",
        execute.all()
    );
    assert!(
        execute.stderr.contains(node) && execute.stderr.contains("nothing was changed"),
        "{}",
        execute.all()
    );
    assert_eq!(
        before,
        &common::tree(&world.root),
        "execute changed the host ({why})"
    );
}

#[test]
fn resealed_plan_whose_content_differs_from_its_diff_is_refused() {
    let world = world_with_an_update();
    // The reported attack: new content (with a matching hash), the old diff kept, a setuid
    // mode that `show` never printed.
    assert_refused(
        &world,
        |plan| {
            let node = node_mut(plan, "apply.motd");
            let evil = b"evil\n";
            node["after"]["content"] = Value::from("evil\n");
            node["after"]["sha256"] = Value::from(sha256_hex(evil));
            node["after"]["size"] = Value::from(evil.len());
            node["after"]["mode"] = Value::from("4777");
        },
        "apply.motd",
        "content and mode changed, diff kept",
    );
    assert_refused(
        &world,
        |plan| node_mut(plan, "apply.motd")["after"]["content"] = Value::from("evil\n"),
        "apply.motd",
        "content changed, hash kept",
    );
    // The diff made to show a change from content the host does not hold: `before` is bound
    // to the host by the fingerprint `execute` checks.
    assert_refused(
        &world,
        |plan| {
            let node = node_mut(plan, "apply.motd");
            let evil = b"evil\n";
            node["after"]["content"] = Value::from("evil\n");
            node["after"]["sha256"] = Value::from(sha256_hex(evil));
            node["after"]["size"] = Value::from(evil.len());
            let diff = node["diff"].as_str().expect("diff").to_owned();
            node["diff"] = Value::from(
                diff.replace("-hello", "-welcome")
                    .replace("+welcome", "+evil"),
            );
            node["before"]["sha256"] = Value::from(sha256_hex(b"welcome\n"));
        },
        "apply.motd",
        "diff and before rewritten to hide the old content",
    );
}

#[test]
fn resealed_plan_hiding_a_change_from_show_is_refused() {
    let world = world_with_an_update();
    // A converged node turned into a setuid change, still shown as `no-op`.
    assert_refused(
        &world,
        |plan| node_mut(plan, "apply.same")["after"]["mode"] = Value::from("4777"),
        "apply.same",
        "mode change on a no-op node",
    );
    // `before` edited so that `show` prints no mode change; the fingerprint is the host's.
    assert_refused(
        &world,
        |plan| {
            let node = node_mut(plan, "apply.motd");
            node["after"]["mode"] = Value::from("4777");
            node["before"]["mode"] = Value::from("4777");
        },
        "apply.motd",
        "before edited to hide a mode change",
    );
    // A mode `execute` parses as setuid but that does not read as one.
    assert_refused(
        &world,
        |plan| node_mut(plan, "apply.motd")["after"]["mode"] = Value::from("+4777"),
        "apply.motd",
        "mode spelled with a sign",
    );
    // A mode left out: `execute` would use its default, which `show` cannot print.
    assert_refused(
        &world,
        |plan| {
            node_mut(plan, "apply.motd")["after"]
                .as_object_mut()
                .expect("after")
                .remove("mode");
        },
        "apply.motd",
        "mode left out",
    );
    // An update turned into a removal that still says `update`.
    assert_refused(
        &world,
        |plan| {
            let node = node_mut(plan, "apply.motd");
            node["after"] = serde_json::json!({
                "path": node["after"]["path"].clone(),
                "state": "absent"
            });
            node["diff"] = Value::Null;
        },
        "apply.motd",
        "removal shown as an update",
    );
}

#[test]
fn resealed_plan_whose_summary_does_not_count_its_nodes_is_refused() {
    let world = world_with_an_update();
    assert_refused(
        &world,
        |plan| {
            plan["summary"]["update"] = Value::from(0);
            plan["summary"]["no_op"] = Value::from(2);
        },
        "summary",
        "summary says nothing changes",
    );
}

#[test]
fn resealed_plan_with_a_collector_shown_as_not_running_is_refused() {
    let world = World::new(
        r#"facts:
  - id: load
    type: load
"#,
    );
    assert_refused(
        &world,
        |plan| node_mut(plan, "facts.load")["action"] = Value::from("no-op"),
        "facts.load",
        "collector shown as no-op",
    );
    assert_refused(
        &world,
        |plan| node_mut(plan, "facts.load")["noop"] = Value::from(true),
        "facts.load",
        "collector shown as noop",
    );
}

#[test]
fn show_prints_mode_owner_and_group_of_every_create_and_flags_risky_modes() {
    let world = World::new(
        r#"apply:
  - id: tool
    type: file
    path: "{{ root }}/tool"
    content: "echo\n"
    mode: "4755"
  - id: drop
    type: directory
    path: "{{ root }}/drop/box"
    parents: true
    mode: "0777"
  - id: plain
    type: file
    path: "{{ root }}/plain"
    content: "x\n"
  - id: current
    type: link
    path: "{{ root }}/current"
    src: "{{ root }}/plain"
"#,
    );
    let (path, _) = world.plan();
    let run = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    // New entries belong to the user running driftless, who made the root.
    let root = std::fs::metadata(&world.root).expect("metadata");
    let (uid, gid) = (root.uid(), root.gid());
    let out = &run.stdout;
    for expected in [
        "file, mode 4755, owner ".to_owned(),
        "directory (and its missing parents), mode 0777, owner ".to_owned(),
        "file, mode 0644, owner ".to_owned(),
        format!("symbolic link to {}", world.path("plain").display()),
        "warning: mode 4755 is setuid".to_owned(),
        "warning: mode 0777 is world-writable".to_owned(),
        format!("({uid}), group "),
        format!("({gid})"),
    ] {
        assert!(out.contains(&expected), "no `{expected}` in:\n{out}");
    }
    assert_eq!(
        out.matches("warning: mode").count(),
        2,
        "only the risky modes are flagged:\n{out}"
    );
}

#[test]
fn show_prints_the_owner_id_execute_sets_even_when_the_name_says_otherwise() {
    let world = World::new(
        r#"apply:
  - id: motd
    type: file
    path: "{{ root }}/motd"
    content: "hi\n"
"#,
    );
    let (path, mut plan) = world.plan();
    // The name kept, the id that `execute` chowns to changed.
    node_mut(&mut plan, "apply.motd")["after"]["uid"] = Value::from(4242);
    write_resealed(&path, plan);
    let run = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("(4242)"), "{}", run.all());
}

#[test]
fn show_says_when_a_removal_takes_everything_in_a_directory() {
    let world = World::new(
        r#"apply:
  - id: gone
    type: directory
    path: "{{ root }}/gone"
    state: absent
    recurse: true
"#,
    );
    common::write(&world.path("gone/inside/file"), b"data\n");
    let (path, _) = world.plan();
    let run = world.run(&["show", path.to_str().expect("utf-8")]);
    assert!(
        run.stdout
            .contains("removes the directory with everything in it"),
        "{}",
        run.all()
    );
}

/// No line of any output starts with `+ apply.fake`, and no output holds a control
/// character other than the line breaks driftless writes itself.
fn assert_escaped(output: &str, what: &str) {
    assert!(
        !output.lines().any(|l| l.starts_with("+ apply.fake")),
        "{what} printed a fake plan line:\n{output}"
    );
    assert!(
        !output.chars().any(|c| c.is_control() && c != '\n'),
        "{what} printed a control character:\n{output:?}"
    );
}

#[test]
fn a_path_with_a_newline_cannot_print_a_fake_plan_line() {
    let world = World::new(
        r#"apply:
  - type: file
    path: "{{ root }}/x\n+ apply.fake create etc-shadow"
    content: "hi\n"
"#,
    );
    let plan = world.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_escaped(&plan.stderr, "plan");
    assert!(
        plan.stderr.contains("x\\n+ apply.fake create etc-shadow"),
        "{}",
        plan.all()
    );
    let (path, _) = world.plan();
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert_escaped(&show.stdout, "show");
    let execute = world.execute(&path, &[]);
    assert_eq!(execute.code, 0, "{}", execute.all());
    assert_escaped(&execute.stdout, "execute");
    assert_escaped(&execute.stderr, "execute");
}

#[test]
fn ansi_sequences_in_content_and_paths_do_not_reach_the_terminal() {
    let world = World::new(
        "apply:\n  - id: \"motd\"\n    type: file\n    path: \"{{ root }}/m\\e[2Jotd\"\n    \
         content: \"\\e]0;owned\\a\\e[31mred\\e[0m\\rover\\u202Eevil\\n\"\n",
    );
    let (path, _) = world.plan();
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert_escaped(&show.stdout, "show");
    assert!(
        show.stdout
            .contains("+\\u{1b}]0;owned\\u{7}\\u{1b}[31mred\\u{1b}[0m\\r\n    +over\\u{202e}evil"),
        "{}",
        show.all()
    );
    assert!(!show.stdout.contains('\u{202e}'), "{}", show.all());
    let dry_run = world.run(&["apply", "--dry-run"]);
    assert_escaped(&dry_run.stdout, "apply --dry-run");
    let execute = world.execute(&path, &[]);
    assert_eq!(execute.code, 0, "{}", execute.all());
    assert_escaped(&execute.stdout, "execute");
}

#[test]
fn a_failure_message_holding_a_path_is_escaped() {
    // The parent is a file, so writing fails with a message that quotes the path.
    let world = World::new(
        r#"apply:
  - id: under
    type: file
    path: "{{ root }}/blocker/x\n+ apply.fake create /etc/shadow"
    content: "hi\n"
"#,
    );
    common::write(&world.path("blocker"), b"a file, not a directory\n");
    let (path, _) = world.plan();
    let execute = world.execute(&path, &[]);
    assert_eq!(execute.code, 1, "{}", execute.all());
    assert!(
        execute.stdout.contains("failed     apply.under"),
        "{}",
        execute.all()
    );
    assert_escaped(&execute.stdout, "execute");
    assert_escaped(&execute.stderr, "execute");
}

#[test]
fn a_diagnostic_quoting_a_key_with_a_newline_is_escaped() {
    let world = World::new(
        "apply:\n  - type: file\n    path: /tmp/x\n    \"mode\\n+ apply.fake create /etc/shadow\\e[2J\": 1\n",
    );
    let check = world.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check.stderr.contains("unknown field `mode\\n+ apply.fake"),
        "{}",
        check.all()
    );
    assert_escaped(&check.stderr, "check");
}

#[test]
fn plan_output_to_a_fifo_symlink_or_directory_is_refused() {
    let world = World::new(
        r#"apply:
  - id: motd
    type: file
    path: "{{ root }}/motd"
    content: "hi\n"
"#,
    );
    let out = world.temp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let fifo = out.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    let target = out.join("target");
    common::write(&target, b"keep me\n");
    let link = out.join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let dir = out.join("dir");
    std::fs::create_dir(&dir).expect("mkdir");
    for (path, kind) in [
        (&fifo, "a FIFO"),
        (&link, "a symbolic link"),
        (&dir, "a directory"),
    ] {
        let run = world.run(&["plan", "-o", path.to_str().expect("utf-8")]);
        assert_eq!(run.code, 1, "{kind}: {}", run.all());
        assert!(
            run.stderr.contains(&format!(
                "is {kind}; driftless writes output only to a regular file"
            )),
            "{kind}: {}",
            run.all()
        );
    }
    let fifo_type = std::fs::symlink_metadata(&fifo).expect("fifo").file_type();
    assert!(fifo_type.is_fifo(), "the FIFO was replaced");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the symlink was replaced"
    );
    assert_eq!(common::read(&target), "keep me\n");
    // A regular file and a new path are written.
    for path in [&target, &out.join("new.json")] {
        let run = world.run(&["plan", "-o", path.to_str().expect("utf-8")]);
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(common::read(path).contains("\"format_version\""));
    }
}

#[test]
fn facts_textfile_onto_a_fifo_is_refused() {
    let world = World::new("");
    let dir = world.temp.path().join("textfile");
    std::fs::create_dir(&dir).expect("mkdir");
    let fifo = dir.join("driftless.prom");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    let run = world.run(&[
        "facts",
        "--no-config",
        "--textfile",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("is a FIFO"), "{}", run.all());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );
}

/// Plans `world`, then `show` and `execute` the plan file: both accept it (the checks of a
/// plan's coherence hold for every real plan), and a second plan is converged. Returns what
/// `show` printed.
fn assert_read_back_and_executed(world: &World) -> String {
    let (path, _) = world.plan();
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "show refused a real plan:\n{}", show.all());
    let execute = world.execute(&path, &[]);
    assert_eq!(
        execute.code,
        0,
        "execute refused a real plan:\n{}",
        execute.all()
    );
    world.assert_converged();
    show.stdout
}

#[test]
fn real_plans_of_every_kind_of_change_are_shown_and_executed() {
    let config = r#"apply:
  - id: secret
    type: file
    path: "{{ root }}/secret"
    content: "token={{ secrets.TOKEN }}\n"
  - id: crlf
    type: file
    path: "{{ root }}/crlf"
    content: "one\r\ntwo\rthree\nno end"
  - id: to-text
    type: copy
    dest: "{{ root }}/to-text"
    src: files/text.txt
  - id: to-binary
    type: copy
    dest: "{{ root }}/to-binary"
    src: files/binary.bin
  - id: large
    type: copy
    dest: "{{ root }}/large"
    src: files/large.txt
  - id: target
    type: file
    path: "{{ root }}/target"
    content: "new target\n"
  - id: hard
    type: link
    kind: hard
    path: "{{ root }}/hard"
    src: "{{ root }}/target"
  - id: followed
    type: file
    path: "{{ root }}/via-link"
    follow: true
    content: "through the link\n"
  - id: line
    type: lineinfile
    path: "{{ root }}/lines"
    line: "key = new"
    regexp: "^key ="
  - id: block
    type: blockinfile
    path: "{{ root }}/lines"
    block: "b\n"
  - id: gone
    type: directory
    path: "{{ root }}/gone"
    state: absent
    recurse: true
"#;
    let mut world = World::new(config);
    world.envs.push(("TOKEN".to_owned(), "first".to_owned()));
    world.config_file("files/text.txt", "now text\n");
    let binary: Vec<u8> = (0..=255u8).collect();
    common::write(&world.config.join("files/binary.bin"), &binary);
    let large = "a line of a large file\n".repeat(50_000);
    world.config_file("files/large.txt", &large);
    common::write(&world.path("to-text"), &binary);
    common::write(&world.path("to-binary"), b"was text\n");
    common::write(
        &world.path("large"),
        large.replacen("a line", "b line", 1).as_bytes(),
    );
    common::write(&world.path("crlf"), b"one\r\ntwo\nthree\r\n");
    common::write(&world.path("target"), b"old target\n");
    std::fs::hard_link(world.path("target"), world.path("hard")).expect("hard link");
    common::write(&world.path("linked-file"), b"before\n");
    std::os::unix::fs::symlink(world.path("linked-file"), world.path("via-link")).expect("symlink");
    common::write(&world.path("lines"), b"key = old\nother\n");
    common::write(&world.path("gone/sub/file"), b"data\n");
    let shown = assert_read_back_and_executed(&world);
    for expected in [
        // Line ends other than `\n` are shown, not acted on by the terminal.
        " one\\r\n",
        "-three\\r\n",
        "+two\\r\n",
        "+no end\n",
        // Binary content replaced by text: the text is shown in full.
        "Binary content differs\n    New content:\n    +now text\n",
        "removes the directory with everything in it",
        "through the symbolic link at this path (follow: true)",
    ] {
        assert!(shown.contains(expected), "no `{expected}` in:\n{shown}");
    }
    // Content not shown line by line is named by its size and hash.
    for (bytes, what) in [(&binary, "binary"), (&large.as_bytes().to_vec(), "large")] {
        let expected = format!(
            "New content: {} bytes, SHA-256 {}",
            bytes.len(),
            sha256_hex(bytes)
        );
        assert!(
            shown.contains(&expected),
            "{what}: no `{expected}` in:\n{shown}"
        );
    }
    // A sensitive content change alone: an update whose states look the same.
    world.envs[0].1 = "second".to_owned();
    assert_read_back_and_executed(&world);
}

#[test]
fn show_prints_what_a_command_collector_runs() {
    let world = World::new(
        r#"facts:
  - id: queue
    type: command
    command: [cat, "{{ root }}/queue"]
"#,
    );
    let (path, _) = world.plan();
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    let expected = format!("command: [\"cat\",\"{}\"]", world.path("queue").display());
    assert!(show.stdout.contains(&expected), "{}", show.all());
}

#[test]
fn a_collector_shown_as_another_type_does_not_run() {
    let world = World::new(
        r#"facts:
  - id: probe
    type: load
"#,
    );
    let (path, mut plan) = world.plan();
    // `after` has no type: only the node's `type` says what `show` names.
    node_mut(&mut plan, "facts.probe")["type"] = Value::from("memory");
    write_resealed(&path, plan);
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert!(show.stdout.contains("collect memory"), "{}", show.all());
    let execute = world.execute(&path, &[]);
    assert_eq!(execute.code, 1, "{}", execute.all());
    assert_eq!(
        execute.status_of("facts.probe").as_deref(),
        Some("failed"),
        "{}",
        execute.all()
    );
    assert!(
        execute.stdout.contains("other settings than the plan"),
        "{}",
        execute.all()
    );
}

/// A plan whose nodes are those of a config with a handler, an explicit dependency, a parent
/// directory and two edits of one file: every edge `plan` writes.
fn world_with_every_edge() -> World {
    World::new(
        r#"apply:
  - id: dir
    type: directory
    path: "{{ root }}/d"
    mode: "0755"
  - id: conf
    type: file
    path: "{{ root }}/d/conf"
    content: "conf\n"
    mode: "0644"
    notify: [reload]
  - id: reload
    type: file
    path: "{{ root }}/reloaded"
    content: "reloaded\n"
    mode: "0644"
  - id: after
    type: file
    path: "{{ root }}/after"
    content: "after\n"
    mode: "0644"
    depends_on: [conf]
  - id: first-line
    type: lineinfile
    path: "{{ root }}/lines"
    line: "one"
    create: true
    mode: "0644"
  - id: second-line
    type: lineinfile
    path: "{{ root }}/lines"
    line: "two"
"#,
    )
}

/// An edit of a plan document, to be resealed.
type PlanEdit = dyn Fn(&mut Value);

fn dependency(address: &str, reason: &str) -> Value {
    serde_json::json!({ "address": address, "reason": reason })
}

#[test]
fn resealed_plan_whose_nodes_do_not_fit_together_is_refused() {
    let world = world_with_every_edge();
    let cases: [(&PlanEdit, &str, &str); 14] = [
        (
            &|plan| {
                let copy = node_mut(plan, "apply.after").clone();
                plan["nodes"].as_array_mut().expect("nodes").push(copy);
                let creates = plan["summary"]["create"].as_u64().expect("create");
                plan["summary"]["create"] = Value::from(creates + 1);
            },
            "apply.after",
            "an address twice",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.after")["depends_on"] =
                    Value::from(vec![dependency("apply.nowhere", "depends_on")])
            },
            "apply.nowhere",
            "a dependency on no node",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.dir")["depends_on"] =
                    Value::from(vec![dependency("apply.after", "depends_on")])
            },
            "apply.dir",
            "a dependency on a later node (a cycle)",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.after")["depends_on"] =
                    Value::from(vec![dependency("apply.after", "depends_on")])
            },
            "apply.after",
            "a dependency on itself",
        ),
        (
            &|plan| node_mut(plan, "apply.conf")["notifies"] = serde_json::json!(["apply.nowhere"]),
            "apply.nowhere",
            "a notification of no node",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.conf")["notifies"] =
                    serde_json::json!(["apply.reload", "apply.after"])
            },
            "apply.conf",
            "a notification of a node that is not a handler",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.conf")
                    .as_object_mut()
                    .expect("node")
                    .remove("notifies");
            },
            "apply.reload",
            "a handler nobody notifies",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.after")["address"] = Value::from("facts.after");
                node_mut(plan, "facts.after")["depends_on"] = Value::from(Vec::<Value>::new());
            },
            "facts.after",
            "an apply node addressed as a facts node",
        ),
        (
            &|plan| node_mut(plan, "apply.after")["type"] = Value::from("command"),
            "apply.after",
            "an apply node of a collector's type",
        ),
        (
            &|plan| node_mut(plan, "apply.after")["precondition"] = Value::from("none"),
            "apply.after",
            "an apply node with no precondition",
        ),
        (
            &|plan| node_mut(plan, "apply.after")["precondition"] = Value::from("chained"),
            "apply.after",
            "an apply node chained after nothing",
        ),
        (
            &|plan| node_mut(plan, "apply.second-line")["precondition"] = Value::from("observed"),
            "apply.second-line",
            "a second edit of a file not chained",
        ),
        (
            &|plan| {
                node_mut(plan, "apply.second-line")["depends_on"] =
                    Value::from(vec![dependency("apply.dir", "depends_on")])
            },
            "apply.second-line",
            "a second edit of a file not after the first",
        ),
        (
            &|plan| plan["format_version"] = Value::from("1.x"),
            "format_version",
            "a format version that is not two numbers",
        ),
    ];
    for (edit, named, why) in cases {
        assert_refused(&world, edit, named, why);
    }
}

#[test]
fn show_prints_the_handlers_a_change_notifies() {
    let world = world_with_every_edge();
    let show = assert_read_back_and_executed(&world);
    let conf = show
        .split("+ apply.conf create")
        .nth(1)
        .and_then(|rest| rest.split("\n+ ").next())
        .unwrap_or_else(|| panic!("no apply.conf in:\n{show}"));
    assert!(
        conf.contains("\n    notifies apply.reload\n"),
        "show does not say what apply.conf notifies:\n{show}"
    );
}

#[test]
fn show_prints_the_extra_vars_the_plan_was_made_with_escaped() {
    let world = world_with_an_update();
    let run = world.run(&["-e", "note=one\n+ apply.fake create \u{1b}[2J", "plan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let path = world.temp.path().join("plan.json");
    common::write(&path, run.stdout.as_bytes());
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    let root = format!("Made with -e root={}\n", world.root.display());
    assert!(show.stdout.contains(&root), "{}", show.all());
    assert!(
        show.stdout.contains("Made with -e note=one"),
        "show does not print the -e vars:\n{}",
        show.all()
    );
    assert_escaped(&show.stdout, "show of -e vars");
}

/// A file written from a var, with no secret in it.
const PUBLIC_FROM_A_VAR: &str = r#"vars:
  allow: "127.0.0.1"
apply:
  - id: conf
    type: file
    path: "{{ root }}/conf"
    content: "allow_from={{ allow }}\n"
    mode: "0644"
"#;

#[test]
fn resealed_plan_marking_a_public_file_sensitive_is_refused_before_anything_changes() {
    let world = World::new(PUBLIC_FROM_A_VAR);
    let (path, mut plan) = world.plan();
    // Hidden from `show` as if it held a secret, so that `execute` renders it again from the
    // config, with other vars.
    let node = node_mut(&mut plan, "apply.conf");
    let file = node["after"]["path"].as_str().expect("path").to_owned();
    let after = node["after"].as_object_mut().expect("after");
    after.insert("content".into(), Value::from("(sensitive)"));
    after.remove("sha256");
    after.remove("size");
    node["after_sensitive"] = serde_json::json!({ "content": true });
    node["before_sensitive"] = serde_json::json!({ "sha256": true });
    node["diff"] = Value::from(format!(
        "--- {file}\n+++ {file}\n(sensitive content changed; not shown)\n"
    ));
    plan["config"]["extra_vars"]
        .as_array_mut()
        .expect("extra_vars")
        .push(Value::from("allow=0.0.0.0/0"));
    write_resealed(&path, plan);
    let before = common::tree(&world.root);
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert!(
        show.stdout.contains("Made with -e allow=0.0.0.0/0"),
        "show hides the var execute renders with:\n{}",
        show.all()
    );
    assert_execute_refused(&world, &path, &before, "apply.conf", "sensitivity");
}

#[test]
fn resealed_plan_showing_content_its_config_takes_from_a_secret_is_refused() {
    let mut world = World::new(
        r#"vars:
  which: "public"
apply:
  - id: conf
    type: file
    path: "{{ root }}/conf"
    content: "{% if which == 'secret' %}{{ secrets.TOKEN }}{% else %}public{% endif %}\n"
    mode: "0644"
  - id: token
    type: file
    path: "{{ root }}/token"
    content: "{{ secrets.TOKEN }}\n"
    mode: "0600"
"#,
    );
    world
        .envs
        .push(("TOKEN".to_owned(), "hunter2-token".to_owned()));
    let (path, mut plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.conf")["after_sensitive"], false);
    plan["config"]["extra_vars"]
        .as_array_mut()
        .expect("extra_vars")
        .push(Value::from("which=secret"));
    write_resealed(&path, plan);
    let before = common::tree(&world.root);
    assert_execute_refused(&world, &path, &before, "apply.conf", "sensitivity");
}

#[test]
fn a_path_with_dot_dot_after_a_symlink_is_refused_by_check() {
    let world = World::new(
        r#"apply:
  - id: through-link
    type: file
    path: "{{ root }}/lk/../f"
    content: "x\n"
  - id: double-slash
    type: directory
    path: "{{ root }}//d"
  - id: link
    type: link
    path: "{{ root }}/l"
    src: "{{ root }}/./f"
"#,
    );
    let elsewhere = world.temp.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink(elsewhere.join("sub"), world.path("lk")).expect("symlink");
    let trees = || (common::tree(&world.root), common::tree(&elsewhere));
    let before = trees();
    for command in ["check", "plan", "apply"] {
        let run = world.run(&[command]);
        assert_ne!(run.code, 0, "{command} accepted it:\n{}", run.all());
        let root = world.root.display();
        for spelled in [
            format!("`path` `{root}/lk/../f` has a `.` or `..` component"),
            format!("`path` `{root}//d` has an empty component"),
            format!("`src` `{root}/./f` has a `.` or `..` component"),
        ] {
            assert!(
                run.stderr.contains(&spelled),
                "{command} does not refuse {spelled}:\n{}",
                run.all()
            );
        }
        assert!(
            run.stderr
                .contains("help: write the path without `.` or `..` components"),
            "{}",
            run.all()
        );
    }
    assert_eq!(before, trees(), "the host changed");
}

/// Points the node's `after` (and `before`) at `path`, with the fingerprint of its `before`
/// there recomputed, as anyone can.
fn move_node(plan: &mut Value, address: &str, path: &str) {
    let node = node_mut(plan, address);
    node["after"]["path"] = Value::from(path);
    node["before"]["path"] = Value::from(path);
    refingerprint(node);
}

#[test]
fn resealed_plan_with_a_path_not_plainly_written_is_refused() {
    let world = World::new(
        r#"apply:
  - id: dir
    type: directory
    path: "{{ root }}/d"
    mode: "0755"
  - id: target
    type: file
    path: "{{ root }}/target"
    content: "t\n"
    mode: "0644"
  - id: hard
    type: link
    kind: hard
    path: "{{ root }}/hard"
    src: "{{ root }}/target"
"#,
    );
    // The fingerprints of the moved nodes below are recomputed as plan-format.md defines
    // them, so that only the path's spelling is left to refuse them: for a node left where it
    // is, that is the fingerprint `plan` wrote.
    let (_, mut plan) = world.plan();
    let node = node_mut(&mut plan, "apply.dir");
    let written = node["fingerprint"].clone();
    refingerprint(node);
    assert_eq!(node["fingerprint"], written, "fingerprint recomputed");
    let root = world.root.display().to_string();
    for spelled in [
        format!("{root}/lk/../d"),
        format!("{root}/./d"),
        format!("{root}//d"),
        format!("{root}/d/"),
        "d".to_owned(),
    ] {
        assert_refused(
            &world,
            |plan| move_node(plan, "apply.dir", &spelled),
            "apply.dir",
            &format!("path written {spelled}"),
        );
    }
    assert_refused(
        &world,
        |plan| {
            node_mut(plan, "apply.hard")["after"]["target"] =
                Value::from(format!("{root}/lk/../target"))
        },
        "apply.hard",
        "hard link target with `..`",
    );
    let audit = world.audit.display().to_string();
    assert_refused(
        &world,
        |plan| plan["audit"][0]["path"] = Value::from(format!("{audit}/../elsewhere")),
        "audit",
        "run reports to a path with `..`",
    );
}
