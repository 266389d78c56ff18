//! Sensitivity is tracked, not guessed: one planted secret goes through every template
//! construct into every field that may hold it, and into every field of every type that may
//! not. No output of any command, no plan, report, metric or file the run leaves outside the
//! managed root holds it; a secret where it may not go is a check error naming the field.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{self, World, read};
use serde_json::Value;

const SECRET: &str = "Pl4nted-s3cret-7f3a9c";

/// The forms of the secret the config's templates write (a filter changes the text).
fn forms() -> [String; 3] {
    [
        SECRET.to_owned(),
        SECRET.to_uppercase(),
        SECRET.replace('-', "_"),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for form in forms() {
        assert!(
            !text.contains(&form),
            "the secret ({form}) appears in {what}:\n{text}"
        );
    }
}

/// Every file under `dir` except those under `skip`, scanned for the secret.
fn assert_tree_clean(dir: &Path, skip: &[&Path]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if skip.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        if path.is_dir() && !path.is_symlink() {
            assert_tree_clean(&path, skip);
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert_clean(
                &format!("file {}", path.display()),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
}

/// Every construct a template can read a value through, into every field a secret may go.
const EVERY_CONSTRUCT: &str = r#"
apply:
  - id: direct
    type: file
    path: "{{ root }}/direct"
    content: "{{ secrets.PLANTED }}\n"
  - id: filtered
    type: file
    path: "{{ root }}/filtered"
    content: "{{ secrets.PLANTED | upper }} {{ secrets.PLANTED | replace('-', '_') }}\n"
  - id: loop-item
    type: file
    path: "{{ root }}/item-{{ item.name }}"
    loop:
      - { name: alice, pw: "{{ secrets.PLANTED }}" }
    content: "{{ item.pw }}\n"
  - id: loop-whole-item
    type: file
    path: "{{ root }}/whole-item"
    loop:
      - { name: bob, pw: "{{ secrets.PLANTED }}" }
    content: "{% for k, v in item | items %}{{ k }}={{ v }}\n{% endfor %}"
  - id: loop-from-secret
    type: copy
    dest: "{{ root }}/from-secret-list"
    loop: "{{ [secrets.PLANTED] }}"
    content: "{{ item }}\n"
  - id: set-and-macro
    type: template
    src: templates/secret.j2
    dest: "{{ root }}/templated"
  - id: line
    type: lineinfile
    path: "{{ root }}/app.conf"
    regexp: "^token="
    line: "token={{ secrets.PLANTED }}"
    create: true
  - id: block
    type: blockinfile
    path: "{{ root }}/block.conf"
    block: "key {{ secrets.PLANTED }}"
    create: true
  - id: conditional
    type: file
    path: "{{ root }}/conditional"
    when: secrets.PLANTED | length > 3
    content: "{{ secrets.PLANTED }}\n"
  - id: policy
    type: assert
    that: secrets.PLANTED | length > 8
    fail_msg: "{{ secrets.PLANTED }} is too short"
facts:
  - id: echoes-its-token
    type: command
    command: ["sh", "-c", "echo not-a-number {{ secrets.PLANTED }}"]
"#;

const TEMPLATE: &str = "{% import 'templates/macros.j2' as m %}\
{% set token = secrets.PLANTED %}{{ m.line(token) }}\n{% include 'templates/inc.j2' %}";

fn world(config: &str) -> World {
    let mut world = World::new(config);
    world.config_file("templates/secret.j2", TEMPLATE);
    world.config_file(
        "templates/macros.j2",
        "{% macro line(value) %}secret = {{ value }}{% endmacro %}",
    );
    world.config_file("templates/inc.j2", "again = {{ secrets.PLANTED }}\n");
    world.envs.push(("PLANTED".to_owned(), SECRET.to_owned()));
    let tmp = world.temp.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir tmp");
    world
        .envs
        .push(("TMPDIR".to_owned(), tmp.display().to_string()));
    world
}

#[test]
fn secret_through_every_construct_reaches_no_output() {
    let world = world(EVERY_CONSTRUCT);
    let check = world.run(&["-vvv", "check"]);
    assert_eq!(check.code, 0, "{}", check.all());
    assert_clean("check -vvv", &check.all());

    let plan = world.run(&["-vvv", "plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_clean("plan -vvv", &plan.all());
    let plan_json = plan.json();
    // Every node that writes the secret is marked, and its content shows as `(sensitive)`.
    for address in [
        "apply.direct",
        "apply.filtered",
        "apply.loop-item[0]",
        "apply.loop-whole-item[0]",
        "apply.loop-from-secret[0]",
        "apply.set-and-macro",
        "apply.line",
        "apply.block",
        "apply.conditional",
    ] {
        let node = common::node(&plan_json, address);
        assert_ne!(
            node["after_sensitive"],
            Value::Bool(false),
            "{address} is not marked sensitive: {node:#}"
        );
    }
    // A public part of a loop item next to a secret one stays public.
    assert!(
        common::node(&plan_json, "apply.loop-item[0]")["after"]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/item-alice")),
        "{plan_json:#}"
    );
    let path = world.temp.path().join("plan.json");
    common::write(&path, plan.stdout.as_bytes());

    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert_clean("show", &show.all());

    let dry = world.run(&["-vvv", "apply", "--dry-run"]);
    assert_clean("apply --dry-run -vvv", &dry.all());

    // The collector prints the secret where a number is wanted: the node fails, and the
    // failure does not quote what it printed.
    let executed = world.execute(&path, &["-vvv"]);
    assert_eq!(executed.code, 1, "{}", executed.all());
    assert!(
        executed.all().contains("facts.echoes-its-token"),
        "{}",
        executed.all()
    );
    assert_clean("execute -vvv", &executed.all());
    assert_eq!(read(&world.path("direct")), format!("{SECRET}\n"));
    assert_eq!(read(&world.path("item-alice")), format!("{SECRET}\n"));
    assert_eq!(
        read(&world.path("whole-item")),
        format!("name=bob\npw={SECRET}\n")
    );
    assert_eq!(read(&world.path("from-secret-list")), format!("{SECRET}\n"));
    assert_eq!(
        read(&world.path("templated")),
        format!("secret = {SECRET}\nagain = {SECRET}\n")
    );

    let applied = world.run(&["-vvv", "apply"]);
    assert_clean("apply -vvv", &applied.all());
    let facts = world.run(&["-vvv", "facts", "--format", "prometheus"]);
    assert_clean("facts --format prometheus -vvv", &facts.all());

    let reports = world.reports();
    assert!(!reports.is_empty());
    // The state and temp dirs, reports included; the managed root holds the secret by design.
    assert_tree_clean(world.temp.path(), &[&world.root, &world.env_file]);
}

/// Every field of every type, from the config schema: a field a secret may not go into is a
/// check error at the value, naming the field and never quoting the value.
#[test]
fn secret_in_a_public_field_is_a_check_error_naming_the_field() {
    let schema: Value = serde_json::from_str(&read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/config.schema.json"),
    ))
    .expect("schema");
    // What a secret may hold, per section and type (the rule the check stage enforces).
    let may_hold: BTreeMap<(&str, &str), &[&str]> = BTreeMap::from([
        (("apply", "file"), &["content"][..]),
        (("apply", "copy"), &["content"][..]),
        (("apply", "lineinfile"), &["line"][..]),
        (("apply", "blockinfile"), &["block"][..]),
        (("apply", "user"), &["password"][..]),
        (("apply", "assert"), &["that", "fail_msg"][..]),
        (("apply", "command"), &["cmd", "argv", "env", "stdin"][..]),
        (("apply", "shell"), &["cmd", "env", "stdin"][..]),
        (("apply", "script"), &["args", "env", "stdin"][..]),
        (("apply", "cron"), &["job"][..]),
        (("apply", "get_url"), &["headers"][..]),
        (("apply", "git"), &["repo"][..]),
        (("apply", "replace"), &["replace"][..]),
        (("apply", "uri"), &["headers", "body", "url_password"][..]),
        (("apply", "debug"), &["msg", "var"][..]),
        (("apply", "fail"), &["msg"][..]),
        (("facts", "command"), &["command"][..]),
    ]);
    // Consumed by the template stage, not fields of the task: tested above.
    let template_keywords = ["type", "loop", "vars", "when"];
    let mut planted = 0;
    let mut config = String::new();
    for (section, def) in [("apply", "ApplyTask"), ("facts", "FactsTask")] {
        config.push_str(&format!("{section}:\n"));
        let variants = schema["$defs"][def]["oneOf"].as_array().expect("oneOf");
        for variant in variants {
            let properties = variant["properties"].as_object().expect("properties");
            // A `block` entry has no type: its keys are the task keywords, planted here in
            // every type's variant.
            let Some(task_type) = properties.get("type").and_then(|t| t["const"].as_str()) else {
                continue;
            };
            // A `set_fact` is consumed by the template stage: its facts may hold a secret
            // (and stay sensitive, `control_tasks`), its keywords are not rendered.
            if task_type == "set_fact" {
                continue;
            }
            let allowed = may_hold.get(&(section, task_type)).copied().unwrap_or(&[]);
            for field in properties.keys() {
                if template_keywords.contains(&field.as_str()) || allowed.contains(&field.as_str())
                {
                    continue;
                }
                planted += 1;
                let mut task = required_fields(section, task_type, planted);
                task.insert(field.clone(), "\"{{ secrets.PLANTED }}\"".to_owned());
                let fields: Vec<String> = task.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                config.push_str(&format!(
                    "  - {{ type: {task_type}, {} }}\n",
                    fields.join(", ")
                ));
            }
        }
    }
    config.push_str(
        "logs:\n  - { id: \"{{ secrets.PLANTED }}\", source: { type: file, paths: [/var/log/x] }, outputs: [{ type: console }] }\n  - { id: a, source: { type: file, paths: [\"{{ secrets.PLANTED }}\"] }, outputs: [{ type: console }] }\n  - { id: b, source: { type: file, paths: [/var/log/x] }, outputs: [{ type: file, path: \"/x/{{ secrets.PLANTED }}\" }] }\n",
    );
    planted += 3;
    let world = world(&config);
    // Settings: the sink's path (the audit setting `World` writes is replaced).
    world.config_file(
        "settings.yaml",
        "settings:\n  metrics: { listen: \"{{ secrets.PLANTED }}\" }\n",
    );
    planted += 1;
    for command in ["check", "plan"] {
        let run = world.run(&["-vvv", command]);
        assert_eq!(run.code, 1, "{command} passed:\n{}", run.all());
        assert_clean(command, &run.all());
        let errors = run
            .stderr
            .matches("cannot hold a value read from a secret")
            .count();
        assert_eq!(
            errors,
            planted,
            "{command}: one error per planted field expected:\n{}",
            run.all()
        );
    }
}

/// The fields a task of `task_type` needs to be valid, as YAML flow values.
fn required_fields(section: &str, task_type: &str, n: usize) -> BTreeMap<String, String> {
    let path = format!("\"{{{{ root }}}}/f{n}\"");
    let fields: Vec<(&str, String)> = match (section, task_type) {
        (_, "file" | "directory" | "lineinfile" | "blockinfile") => vec![("path", path)],
        (_, "link") => vec![("path", path), ("src", "/etc".to_owned())],
        (_, "copy") => vec![("dest", path), ("content", "x".to_owned())],
        (_, "template") => vec![("dest", path), ("src", "templates/inc.j2".to_owned())],
        (_, "assert") => vec![("that", "true".to_owned())],
        ("facts", "command") => vec![("command", "[\"true\"]".to_owned())],
        ("apply", "command" | "shell") => vec![("cmd", "\"true\"".to_owned())],
        ("apply", "script") => vec![("src", "templates/inc.j2".to_owned())],
        ("apply", "get_url") => vec![("url", "https://example.com/x".to_owned()), ("dest", path)],
        ("apply", "git") => vec![
            ("repo", "https://example.com/x.git".to_owned()),
            ("dest", path),
        ],
        ("apply", "unarchive") => vec![("src", "templates/inc.j2".to_owned()), ("dest", path)],
        ("apply", "uri") => vec![("url", "https://example.com/x".to_owned())],
        ("apply", "wait_for") => vec![("port", "80".to_owned())],
        (_, "textfile") => vec![("directory", "/tmp".to_owned())],
        (_, "user" | "group") => vec![("name", format!("acct{n}"))],
        ("apply", "replace") => vec![("path", path), ("regexp", "x".to_owned())],
        ("apply", "sudoers") => vec![("name", format!("rule{n}"))],
        ("apply", "archive") => vec![("path", "/srv".to_owned()), ("dest", path)],
        _ => Vec::new(),
    };
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Template errors print the failing expression's detail, which may quote the value it failed
/// on: not when the expression read a secret.
#[test]
fn template_error_on_a_secret_does_not_quote_it() {
    let world = world(
        r#"
apply:
  - type: file
    path: "{{ root }}/x"
    content: "{{ 1 + secrets.PLANTED }}"
  - type: file
    path: "{{ root }}/y"
    loop: [{ pw: "{{ secrets.PLANTED }}" }]
    content: "{{ item.pw + 1 }}"
"#,
    );
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_clean("check", &run.all());
    assert_eq!(
        run.stderr
            .matches("details hidden: the template read a secret")
            .count(),
        2,
        "{}",
        run.all()
    );
}

/// Loop keys name tasks (`id[key]`): a mapping read from a secret cannot be looped over.
#[test]
fn loop_over_a_mapping_from_a_secret_is_refused() {
    let world = world(
        r#"
apply:
  - id: per-key
    type: file
    path: "{{ root }}/k"
    loop: "{{ {secrets.PLANTED: 1} }}"
    content: "{{ item.value }}"
"#,
    );
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_clean("check", &run.all());
    assert!(
        run.stderr
            .contains("`loop` over a mapping read from a secret"),
        "{}",
        run.all()
    );
}

/// "`item` has no field `x`" lists the fields there are; not when the item came from a secret
/// (a secret string's "fields" would be its characters, a mapping's keys may be the secret).
#[test]
fn missing_field_of_a_secret_item_does_not_list_its_fields() {
    let world = world(
        r#"
apply:
  - type: file
    path: "{{ root }}/a"
    loop: ["{{ secrets.PLANTED }}"]
    content: "{{ item.nope }}"
  - type: file
    path: "{{ root }}/b"
    loop: "{{ [{secrets.PLANTED: 1}] }}"
    content: "{{ item.nope }}"
  - type: file
    path: "{{ root }}/c"
    when: item.nope
    loop: ["{{ secrets.PLANTED }}"]
    content: x
"#,
    );
    world.config_file("templates/t.j2", "{{ item.zz }}");
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_clean("check", &run.all());
    assert_eq!(
        run.stderr
            .matches("are not listed: it was read from a secret")
            .count(),
        3,
        "{}",
        run.all()
    );
}

/// An env file error names the place, never text of the file: a `$` in a mistyped
/// double-quoted password is followed by the rest of the password.
#[test]
fn env_file_error_about_a_dollar_does_not_quote_what_follows_it() {
    let world = World::new(
        "apply:\n  - { type: file, path: \"{{ root }}/x\", content: \"{{ secrets.PW }}\" }\n",
    );
    common::write(&world.env_file, format!("PW=\"pa${SECRET}\"\n").as_bytes());
    std::fs::set_permissions(
        &world.env_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_clean("check", &run.all());
    assert!(run.stderr.contains("line 1, column 7"), "{}", run.all());
}
