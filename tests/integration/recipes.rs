//! The logrotate and rsyslog recipes of docs/config/recipes.md, applied in a throwaway root
//! with Debian's real `logrotate` and `rsyslogd` (from `scripts/install-test-deps`, copied
//! into the root): the drop-ins are written and left alone on a second apply, and a broken
//! drop-in is refused by its `validate` command, the old file kept.

use crate::held_root::HeldRoot;

/// The templates and tasks as the recipes page shows them (the test checks the page still
/// does); the rsyslog recipe's restart handler is left out: no init system runs here.
const LOGROTATE_TEMPLATE: &str = "/var/log/app/*.log {
    {{ app_log_rotation | default('daily') }}
    rotate {{ app_log_keep | default(14) }}
    missingok
    notifempty
    compress
    delaycompress
}
";
const RSYSLOG_TEMPLATE: &str = "if $programname == '{{ app_name | default(\"app\") }}' then {
    action(type=\"omfile\" file=\"/var/log/app/app.log\")
    stop
}
";
const CONFIG: &str = "
apply:
  - id: logrotate-app
    type: template
    src: templates/logrotate-app.j2
    dest: /etc/logrotate.d/app
    mode: \"0644\"
    validate: logrotate -d %s
  - id: rsyslog-app
    type: template
    src: templates/rsyslog-app.conf.j2
    dest: /etc/rsyslog.d/30-app.conf
    mode: \"0644\"
    validate: rsyslogd -N1 -f %s
";

fn root() -> HeldRoot {
    let deps = crate::deps::test_deps(&[
        "root/usr/sbin/logrotate",
        "root/usr/sbin/rsyslogd",
        "lib/libpopt.so.0",
    ]);
    let root = HeldRoot::new(CONFIG);
    let unpacked = deps.join("root").display().to_string();
    root.sh_ok(&format!(
        "cp {unpacked}/usr/sbin/logrotate {unpacked}/usr/sbin/rsyslogd /usr/sbin/ \
         && lib=/usr/lib/$(uname -m)-linux-gnu && cp -a {unpacked}$lib/. $lib/ \
         && mkdir -p /etc/logrotate.d /etc/rsyslog.d /var/log/app"
    ));
    root.world
        .config_file("templates/logrotate-app.j2", LOGROTATE_TEMPLATE);
    root.world
        .config_file("templates/rsyslog-app.conf.j2", RSYSLOG_TEMPLATE);
    root
}

#[test]
fn the_recipes_are_the_ones_the_docs_show() {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config/recipes.md"),
    )
    .expect("recipes.md");
    for shown in [
        LOGROTATE_TEMPLATE,
        RSYSLOG_TEMPLATE,
        "validate: logrotate -d %s",
        "validate: rsyslogd -N1 -f %s",
    ] {
        assert!(page.contains(shown), "recipes.md no longer shows:\n{shown}");
    }
}

#[test]
fn drop_ins_are_validated_written_and_a_broken_one_refused() {
    let root = root();
    let world = &root.world;
    world.step("apply.logrotate-app", "create");
    assert_eq!(
        root.file("/etc/logrotate.d/app").as_deref(),
        Some(
            "/var/log/app/*.log {\n    daily\n    rotate 14\n    missingok\n    notifempty\n    \
             compress\n    delaycompress\n}\n"
        )
    );
    assert!(
        root.file("/etc/rsyslog.d/30-app.conf")
            .is_some_and(|c| c.starts_with("if $programname == 'app' then {")),
    );
    world.assert_converged();

    // Broken drop-ins: a rotation count that is no number, an rsyslog block never closed.
    world.config_file(
        "templates/logrotate-app.j2",
        &LOGROTATE_TEMPLATE.replace("{{ app_log_keep | default(14) }}", "seven"),
    );
    world.config_file(
        "templates/rsyslog-app.conf.j2",
        &RSYSLOG_TEMPLATE.replace("    stop\n}\n", "    stop\n"),
    );
    let good_logrotate = root.file("/etc/logrotate.d/app");
    let good_rsyslog = root.file("/etc/rsyslog.d/30-app.conf");
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    for address in ["apply.logrotate-app", "apply.rsyslog-app"] {
        assert_eq!(
            run.status_of(address).as_deref(),
            Some("failed"),
            "{address}: {}",
            run.all()
        );
    }
    assert!(
        run.all().contains("/etc/logrotate.d/app was not changed")
            && run.all().contains("syntax error"),
        "{}",
        run.all()
    );
    assert_eq!(root.file("/etc/logrotate.d/app"), good_logrotate);
    assert_eq!(root.file("/etc/rsyslog.d/30-app.conf"), good_rsyslog);
}
