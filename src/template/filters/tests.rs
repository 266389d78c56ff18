//! Every filter against what Ansible renders for the same input: the cases of
//! tests/data/ansible-filters.json, recorded with ansible-core 2.19 by
//! tests/data/record-ansible-filters.py (ipaddr, not part of ansible-core, from the
//! ansible.utils documentation). No Python is needed to run them.

use super::super::{TemplateOptions, environment};

#[derive(serde::Deserialize)]
struct Case {
    template: String,
    vars: serde_json::Value,
    expected: String,
}

fn render(template: &str, vars: &serde_json::Value, options: TemplateOptions) -> String {
    let env = environment(options);
    env.render_str(template, super::super::json_to_value(vars))
        .unwrap_or_else(|e| format!("error: {e}"))
}

#[test]
fn filters_render_as_ansible_does() {
    let cases: Vec<Case> =
        serde_json::from_str(include_str!("../../../tests/data/ansible-filters.json"))
            .expect("the recorded cases are JSON");
    let mut failures = Vec::new();
    for case in &cases {
        let got = render(&case.template, &case.vars, TemplateOptions::default());
        if got != case.expected {
            failures.push(format!(
                "{}\n  ansible: {:?}\n  ours:    {:?}",
                case.template, case.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The names "did you mean" offers are the names the environment knows.
#[test]
fn every_listed_filter_and_test_is_registered() {
    let env = environment(TemplateOptions::default());
    for name in super::names() {
        let result = env.render_str(&format!("{{{{ none | {name} }}}}"), ());
        if let Err(e) = result {
            assert_ne!(
                e.kind(),
                minijinja::ErrorKind::UnknownFilter,
                "filter {name}"
            );
        }
    }
    for name in super::TESTS
        .iter()
        .filter(|t| t.chars().all(char::is_alphabetic))
    {
        let result = env.render_str(&format!("{{{{ 1 is {name} }}}}"), ());
        if let Err(e) = result {
            assert_ne!(e.kind(), minijinja::ErrorKind::UnknownTest, "test {name}");
        }
    }
    let unknown = env
        .render_str("{{ none | no_such_filter }}", ())
        .unwrap_err();
    assert_eq!(unknown.kind(), minijinja::ErrorKind::UnknownFilter);
}

/// SHA-crypt rounds are paid in fuel before they are computed: a huge `rounds` stops at once.
#[test]
fn password_hash_rounds_are_paid_from_the_fuel_budget() {
    let env = environment(TemplateOptions::default());
    let error = env
        .render_str(
            "{{ 'x' | password_hash('sha512', 'salt', rounds=999999999) }}",
            (),
        )
        .unwrap_err();
    assert_eq!(error.kind(), minijinja::ErrorKind::OutOfFuel);
}
