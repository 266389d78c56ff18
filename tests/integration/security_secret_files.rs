//! Secrets reach files as they were written, and stay the owner's: env file values are taken
//! literally unless double-quoted (`A=pa$word123` is `pa$word123`, not `pa`), and a file created
//! with secret content and no `mode` is `0600`.

use crate::common::{self, World, mode, read};

/// Env file lines, and the value each secret must have.
const VALUES: &[(&str, &str, &str)] = &[
    ("DOLLAR", "DOLLAR=pa$word123", "pa$word123"),
    ("BRACES", "BRACES=${HOME}x", "${HOME}x"),
    ("BACKSLASH", r"BACKSLASH=back\slash\n", r"back\slash\n"),
    ("HASH", "HASH=pass#word # kept", "pass#word # kept"),
    ("QUOTES", r#"QUOTES=it's "quoted""#, r#"it's "quoted""#),
    (
        "TRAILING",
        "TRAILING=trailing blanks   \t",
        "trailing blanks",
    ),
    (
        "SINGLE",
        "SINGLE='single $quoted ${X} \\n  '",
        "single $quoted ${X} \\n  ",
    ),
    (
        "DOUBLE",
        r#"DOUBLE="double ${DOLLAR} \$ \"q\" \\ $"   # comment"#,
        r#"double pa$word123 $ "q" \ $"#,
    ),
    (
        "MULTILINE",
        "MULTILINE='line one\nline two'",
        "line one\nline two",
    ),
    ("EXPORTED", "export EXPORTED=e$x", "e$x"),
];

#[test]
fn env_file_values_are_taken_literally_unless_double_quoted() {
    let mut apply = String::from("apply:\n");
    for (name, _, _) in VALUES {
        apply.push_str(&format!(
            "  - type: file\n    path: \"{{{{ root }}}}/{name}\"\n    content: \"{{{{ secrets.{name} }}}}\"\n",
        ));
    }
    let world = World::new(&apply);
    let lines: Vec<&str> = VALUES.iter().map(|(_, line, _)| *line).collect();
    common::write(
        &world.env_file,
        format!("# secrets\n{}\n", lines.join("\n")).as_bytes(),
    );
    common::set_mode(&world.env_file, 0o600);
    world.apply();
    for (name, _, expected) in VALUES {
        assert_eq!(read(&world.path(name)), *expected, "secret {name}");
    }
}

#[test]
fn env_file_value_with_a_dollar_is_not_cut() {
    let world = World::new(
        "apply:\n  - type: file\n    path: \"{{ root }}/x\"\n    content: \"{{ secrets.A }}\"\n",
    );
    common::write(&world.env_file, b"A=pa$word123\n");
    common::set_mode(&world.env_file, 0o600);
    world.apply();
    assert_eq!(read(&world.path("x")), "pa$word123");
}

#[test]
fn a_malformed_env_file_is_reported_by_line_without_its_text() {
    let world = World::new(
        "apply:\n  - type: file\n    path: \"{{ root }}/x\"\n    content: \"{{ secrets.A }}\"\n",
    );
    common::write(&world.env_file, b"A=\"hunter2 ${NOT_SET_ANYWHERE}\"\n");
    common::set_mode(&world.env_file, 0o600);
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("line 1, column 12: this `$` names a variable set neither"),
        "{}",
        run.all()
    );
    // Neither the value nor the name after `$`, which in a mistyped password is part of it.
    for text in ["hunter2", "NOT_SET_ANYWHERE"] {
        assert!(!run.all().contains(text), "{}", run.all());
    }
}

const SECRET_FILES: &str = r#"
apply:
  - id: file
    type: file
    path: "{{ root }}/file"
    content: "{{ secrets.TOKEN }}"
  - id: copy
    type: copy
    dest: "{{ root }}/copy"
    content: "{{ secrets.TOKEN }}"
  - id: template
    type: template
    src: templates/t.j2
    dest: "{{ root }}/template"
  - id: line
    type: lineinfile
    path: "{{ root }}/line"
    line: "token={{ secrets.TOKEN }}"
    create: true
  - id: block
    type: blockinfile
    path: "{{ root }}/block"
    block: "token={{ secrets.TOKEN }}"
    create: true
  - id: public
    type: file
    path: "{{ root }}/public"
    content: "nothing secret"
  - id: chosen
    type: file
    path: "{{ root }}/chosen"
    content: "{{ secrets.TOKEN }}"
    mode: "0640"
"#;

#[test]
fn a_file_created_with_secret_content_and_no_mode_is_0600() {
    let mut world = World::new(SECRET_FILES);
    world.config_file("templates/t.j2", "token={{ secrets.TOKEN }}\n");
    world
        .envs
        .push(("TOKEN".to_owned(), "secret-0600-4d1f".to_owned()));
    let (plan_path, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.file")["after"]["mode"], "0600");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    for name in ["file", "copy", "template", "line", "block"] {
        assert_eq!(mode(&world.path(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&world.path("public")), 0o644);
    assert_eq!(mode(&world.path("chosen")), 0o640);
    world.assert_converged();
}
