//! `service` against a real systemd booted as PID 1 in a throwaway root ([`Sandbox::boot`]): start
//! and enable, stop and disable, restarts only after a change when notified and every time
//! when not, reload, mask, daemon-reload, no-ops, dry runs and stale plans. Each test boots
//! its own root (about a second) and uses units of its own.

use crate::common::{self, World};
use crate::sandbox::Sandbox;

/// A unit, installed where packages put theirs, that runs until stopped and writes a line to `/run/<name>.reloads` on each reload.
fn install_unit(booted: &Sandbox, name: &str) {
    booted.sh_ok(&format!(
        "cat > /lib/systemd/system/{name}.service <<'UNIT'\n{}UNIT\nsystemctl daemon-reload",
        unit_file(name)
    ));
}

fn unit_file(name: &str) -> String {
    format!(
        "[Unit]\nDescription=driftless test {name}\n\
         [Service]\nType=simple\n\
         ExecStart=/bin/sh -c 'trap \"echo reloaded >> /run/{name}.reloads\" HUP; while :; do sleep 1 & wait $!; done'\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         [Install]\nWantedBy=multi-user.target\n"
    )
}

/// `systemctl is-active` and `is-enabled` of the unit.
fn status(booted: &Sandbox, unit: &str) -> (String, String) {
    let ask = |verb: &str| {
        let out = booted.sh(&format!("systemctl {verb} {unit}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    (ask("is-active"), ask("is-enabled"))
}

fn main_pid(booted: &Sandbox, unit: &str) -> String {
    booted.sh_ok(&format!("systemctl show -p MainPID --value {unit}"))
}

fn service(id: &str, fields: &str) -> String {
    format!("apply:\n  - {{id: {id}, type: service, {fields}}}\n")
}

fn show(world: &World, plan: &std::path::Path) -> String {
    let run = world.run(&["show", plan.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout
}

#[test]
fn start_and_enable_then_stop_and_disable_and_nothing_twice() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-web");
    let world = World::in_sandbox(
        &service("web", "name: dl-web, state: started, enabled: true"),
        &booted,
    );
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_eq!(
        status(&booted, "dl-web.service"),
        ("inactive".into(), "disabled".into())
    );

    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.web");
    assert_eq!(node["action"], "update");
    assert_eq!(node["before"]["active"], false);
    assert_eq!(node["after"]["active"], true);
    assert_eq!(node["after"]["enabled"], true);
    assert!(node["after"]["masked"].is_null(), "{node:#}");
    assert!(show(&world, &plan_path).contains("start and enable dl-web.service"));
    assert_eq!(
        status(&booted, "dl-web.service"),
        ("inactive".into(), "disabled".into())
    );

    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.web").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        status(&booted, "dl-web.service"),
        ("active".into(), "enabled".into())
    );
    world.assert_converged();
    let again = world.apply();
    assert_eq!(
        again.status_of("apply.web").as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );

    world.set_config(&service(
        "web",
        "name: dl-web.service, state: stopped, enabled: false",
    ));
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("stop and disable dl-web.service"));
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.web").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        status(&booted, "dl-web.service"),
        ("inactive".into(), "disabled".into())
    );
    world.assert_converged();
}

#[test]
fn a_notified_restart_runs_only_after_a_change() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-notified");
    // As Ansible users write it: the service managed by one task, restarted by a handler.
    let config = |content: &str| {
        format!(
            "apply:\n  - {{id: conf, type: file, path: /etc/dl-notified.conf, content: \"{content}\", notify: [restart]}}\n\
             \x20 - {{id: run, type: service, name: dl-notified, state: started, enabled: true}}\n\
             \x20 - {{id: restart, type: service, name: dl-notified, state: restarted}}\n"
        )
    };
    let world = World::in_sandbox(&config("one"), &booted);
    let (plan_path, plan) = world.plan();
    let handler = common::node(&plan, "apply.restart");
    assert_eq!(handler["handler"], true);
    assert_eq!(handler["action"], "run");
    assert!(
        handler["depends_on"]
            .as_array()
            .expect("depends_on")
            .iter()
            .any(|d| d["address"] == "apply.run" && d["reason"] == "service state"),
        "{handler:#}"
    );
    let shown = show(&world, &plan_path);
    assert!(shown.contains("restart dl-notified.service"), "{shown}");
    assert!(!shown.contains("runs every time"), "{shown}");

    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.run").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.restart").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    let started = main_pid(&booted, "dl-notified.service");
    assert_ne!(started, "0\n", "not running");

    // Nothing changed: the handler is not run.
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.run").as_deref(),
        Some("unchanged"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.restart").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert_eq!(main_pid(&booted, "dl-notified.service"), started);

    world.set_config(&config("two"));
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.restart").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_ne!(
        main_pid(&booted, "dl-notified.service"),
        started,
        "not restarted"
    );
}

#[test]
fn restarted_without_notify_runs_every_time_and_the_plan_says_so() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-always");
    booted.sh_ok("systemctl start dl-always");
    let world = World::in_sandbox(
        &service("always", "name: dl-always, state: restarted"),
        &booted,
    );
    let (plan_path, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.always")["action"], "run");
    assert_eq!(
        common::node(&plan, "apply.always")["after"]["every_time"],
        true
    );
    assert!(
        show(&world, &plan_path)
            .contains("restart dl-always.service (runs every time: `restarted` without notify)")
    );
    let mut pid = main_pid(&booted, "dl-always.service");
    for _ in 0..2 {
        let run = world.apply();
        assert_eq!(
            run.status_of("apply.always").as_deref(),
            Some("changed"),
            "{}",
            run.all()
        );
        let now = main_pid(&booted, "dl-always.service");
        assert_ne!(now, pid, "not restarted");
        pid = now;
    }
}

#[test]
fn reloaded_reloads_a_running_service_and_starts_a_stopped_one() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-reload");
    let world = World::in_sandbox(
        &service("reload", "name: dl-reload, state: reloaded"),
        &booted,
    );
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("start dl-reload.service"));
    world.apply();
    assert_eq!(status(&booted, "dl-reload.service").0, "active");
    let pid = main_pid(&booted, "dl-reload.service");

    let (plan_path, _) = world.plan();
    assert!(
        show(&world, &plan_path)
            .contains("reload dl-reload.service (runs every time: `reloaded` without notify)")
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        main_pid(&booted, "dl-reload.service"),
        pid,
        "restarted, not reloaded"
    );
    // The trap runs when the shell's `wait` is interrupted: give it its moment.
    booted.sh_ok(
        "for i in $(seq 50); do [ -s /run/dl-reload.reloads ] && exit 0; sleep 0.1; done; exit 1",
    );
}

#[test]
fn masked_stops_it_for_good_and_unmasked_undoes_it() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-mask");
    booted.sh_ok("systemctl enable --now dl-mask");
    let world = World::in_sandbox(
        &service("mask", "name: dl-mask, state: stopped, masked: true"),
        &booted,
    );
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("stop and mask dl-mask.service"));
    world.apply();
    assert_eq!(
        status(&booted, "dl-mask.service"),
        ("inactive".into(), "masked".into())
    );
    assert!(booted.sh("systemctl start dl-mask").status.code() != Some(0));
    world.assert_converged();

    world.set_config(&service(
        "mask",
        "name: dl-mask, masked: false, state: started",
    ));
    let (plan_path, _) = world.plan();
    assert!(show(&world, &plan_path).contains("unmask and start dl-mask.service"));
    world.apply();
    assert_eq!(
        status(&booted, "dl-mask.service"),
        ("active".into(), "enabled".into())
    );
    world.assert_converged();
}

#[test]
fn masking_a_unit_whose_file_is_in_etc_is_a_plan_error() {
    let booted = Sandbox::boot();
    booted.sh_ok(&format!(
        "cat > /etc/systemd/system/dl-local.service <<'UNIT'\n{}UNIT\nsystemctl daemon-reload",
        unit_file("dl-local")
    ));
    let world = World::in_sandbox(&service("local", "name: dl-local, masked: true"), &booted);
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("dl-local.service cannot be masked: its unit file is /etc/systemd/system/dl-local.service"),
        "{}",
        run.all()
    );
}

#[test]
fn a_unit_file_changed_on_disk_is_read_again() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-reread");
    booted.sh_ok("systemctl start dl-reread && sed -i 's/^Description=.*/Description=changed/' /lib/systemd/system/dl-reread.service");
    let need = || booted.sh_ok("systemctl show -p NeedDaemonReload --value dl-reread");
    assert_eq!(need(), "yes\n");

    // Without `daemon_reload`, a service already as wanted is left alone.
    let world = World::in_sandbox(
        &service("reread", "name: dl-reread, state: started"),
        &booted,
    );
    world.assert_converged();
    world.set_config(&service(
        "reread",
        "name: dl-reread, state: started, daemon_reload: true",
    ));
    let (plan_path, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.reread")["action"], "update");
    assert!(
        show(&world, &plan_path)
            .contains("reload systemd's unit files for dl-reread.service (daemon-reload)")
    );
    world.apply();
    assert_eq!(need(), "no\n");
    assert_eq!(
        booted.sh_ok("systemctl show -p Description --value dl-reread"),
        "changed\n"
    );
    world.assert_converged();
}

#[test]
fn a_unit_file_written_in_the_same_run_is_loaded_before_the_service_starts() {
    let booted = Sandbox::boot();
    let unit = unit_file("dl-new")
        .replace('\n', "\\n")
        .replace('"', "\\\"");
    let world = World::in_sandbox(
        &format!(
            "apply:\n  - {{id: unit, type: file, path: /etc/systemd/system/dl-new.service, content: \"{unit}\"}}\n\
             \x20 - {{id: new, type: service, name: dl-new, state: started, enabled: true}}\n"
        ),
        &booted,
    );
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.new");
    assert_eq!(node["before"]["installed"], false);
    assert!(
        node["depends_on"]
            .as_array()
            .expect("depends_on")
            .iter()
            .any(|d| d["address"] == "apply.unit" && d["reason"] == "unit file"),
        "{node:#}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(
        run.status_of("apply.new").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        status(&booted, "dl-new.service"),
        ("active".into(), "enabled".into())
    );
    world.assert_converged();
}

#[test]
fn a_service_nothing_installs_is_a_plan_error_naming_it() {
    let booted = Sandbox::boot();
    let world = World::in_sandbox(&service("ghost", "name: dl-ghost, state: started"), &booted);
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("dl-ghost.service is not installed"),
        "{}",
        run.all()
    );
    // Stopping what is not there is already done.
    world.set_config(&service("ghost", "name: dl-ghost, state: stopped"));
    world.assert_converged();
}

#[test]
fn a_plan_made_stale_by_a_start_out_of_band_is_refused() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-stale");
    let world = World::in_sandbox(
        &service("stale", "name: dl-stale, state: started, enabled: true"),
        &booted,
    );
    let (plan_path, _) = world.plan();
    booted.sh_ok("systemctl start dl-stale");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("apply.stale"), "{}", run.all());
    assert!(run.all().contains("active was no, is yes"), "{}", run.all());
    // Refused before anything changed: still not enabled.
    assert_eq!(
        status(&booted, "dl-stale.service"),
        ("active".into(), "disabled".into())
    );
}

/// An LSB init script whose daemon (started with `start-stop-daemon`) runs until stopped and
/// writes a line to `/run/<name>.reloads` on each reload.
fn install_init_script(booted: &Sandbox, name: &str) {
    booted.sh_ok(&format!(
        r#"cat > /etc/init.d/{name} <<'SCRIPT'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: driftless test daemon
### END INIT INFO
PIDFILE=/run/{name}.pid
case "$1" in
  start) start-stop-daemon --start --quiet --background --make-pidfile --pidfile $PIDFILE \
           --startas /bin/sh -- -c 'trap "echo reloaded >> /run/{name}.reloads" HUP; while :; do sleep 1 & wait $!; done' ;;
  stop) start-stop-daemon --stop --quiet --retry 5 --pidfile $PIDFILE --remove-pidfile
        [ $? -le 1 ] ;;
  restart) "$0" stop && "$0" start ;;
  reload) start-stop-daemon --stop --quiet --signal HUP --pidfile $PIDFILE ;;
  status) start-stop-daemon --status --pidfile $PIDFILE ;;
  *) exit 3 ;;
esac
SCRIPT
chmod 755 /etc/init.d/{name}"#
    ));
}

fn sysv_pid(booted: &Sandbox, name: &str) -> String {
    booted.sh_ok(&format!("cat /run/{name}.pid 2>/dev/null || true"))
}

fn sysv_links(booted: &Sandbox, name: &str) -> String {
    booted.sh_ok(&format!(
        "cd /etc && ls rc2.d rc3.d rc4.d rc5.d | grep -c '^S..{name}$' || true"
    ))
}

#[test]
fn without_systemd_init_scripts_start_enable_restart_stop_and_disable() {
    let booted = Sandbox::new();
    install_init_script(&booted, "dl-sysv");
    let world = World::in_sandbox(
        &service("sysv", "name: dl-sysv, state: started, enabled: true"),
        &booted,
    );
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.sysv");
    assert_eq!(node["before"]["manager"], "sysvinit", "{node:#}");
    assert!(show(&world, &plan_path).contains("start and enable dl-sysv.service"));
    assert_eq!(sysv_pid(&booted, "dl-sysv"), "");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(
        run.status_of("apply.sysv").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    let pid = sysv_pid(&booted, "dl-sysv");
    assert_ne!(pid, "");
    assert_eq!(sysv_links(&booted, "dl-sysv"), "4\n");
    world.assert_converged();

    world.set_config(&service("sysv", "name: dl-sysv, state: restarted"));
    world.apply();
    assert_ne!(sysv_pid(&booted, "dl-sysv"), pid, "not restarted");

    world.set_config(&service("sysv", "name: dl-sysv, state: reloaded"));
    world.apply();
    booted.sh_ok(
        "for i in $(seq 50); do [ -s /run/dl-sysv.reloads ] && exit 0; sleep 0.1; done; exit 1",
    );

    world.set_config(&service(
        "sysv",
        "name: dl-sysv, state: stopped, enabled: false",
    ));
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.sysv").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(sysv_pid(&booted, "dl-sysv"), "");
    assert_eq!(sysv_links(&booted, "dl-sysv"), "0\n");
    world.assert_converged();
}

#[test]
fn without_systemd_a_stale_plan_is_refused() {
    let booted = Sandbox::new();
    install_init_script(&booted, "dl-sysv-stale");
    let world = World::in_sandbox(
        &service("stale", "name: dl-sysv-stale, state: started"),
        &booted,
    );
    let (plan_path, _) = world.plan();
    booted.sh_ok("/etc/init.d/dl-sysv-stale start");
    let pid = sysv_pid(&booted, "dl-sysv-stale");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all()
            .contains("apply.stale: dl-sysv-stale.service changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(sysv_pid(&booted, "dl-sysv-stale"), pid);
}

#[test]
fn all_the_units_of_a_run_are_observed_with_one_systemctl_show() {
    let booted = Sandbox::boot();
    for name in ["dl-one", "dl-two", "dl-three"] {
        install_unit(&booted, name);
    }
    // A systemctl first in driftless's PATH that logs its arguments.
    booted.sh_ok(
        "printf '#!/bin/sh\\necho \"$*\" >> /run/systemctl.calls\\nexec /bin/systemctl \"$@\"\\n' \
         > /usr/local/sbin/systemctl && chmod 755 /usr/local/sbin/systemctl",
    );
    let world = World::in_sandbox(
        "apply:\n  - {type: service, name: dl-one, state: started}\n\
         \x20 - {type: service, name: dl-two, enabled: true}\n\
         \x20 - {type: service, name: dl-three.service, state: stopped}\n",
        &booted,
    );
    world.plan();
    assert_eq!(
        booted.sh_ok("cat /run/systemctl.calls"),
        "show --property Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,FragmentPath \
         -- dl-one.service dl-two.service dl-three.service\n"
    );
}

#[test]
fn a_service_that_cannot_start_fails_its_node_with_systemds_message_and_others_go_on() {
    let booted = Sandbox::boot();
    install_unit(&booted, "dl-fine");
    booted.sh_ok(
        "printf '[Service]\\nType=exec\\nExecStart=/nonexistent/dl-broken\\n' \
         > /lib/systemd/system/dl-broken.service && systemctl daemon-reload",
    );
    let world = World::in_sandbox(
        "apply:\n  - {id: broken, type: service, name: dl-broken, state: started}\n\
         \x20 - {id: fine, type: service, name: dl-fine, state: started}\n",
        &booted,
    );
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.broken").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("systemctl failed (exit 1): Job for dl-broken.service failed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.fine").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(status(&booted, "dl-fine.service").0, "active");
}
