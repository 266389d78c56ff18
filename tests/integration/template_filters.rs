//! Filters keep a secret secret: whatever a filter makes of a secret (its base64, its hash, a
//! password hash, a JSON document holding it) is sensitive, and no output shows it or the
//! secret.

use crate::common::{World, node};

const SECRET: &str = "filt3r-s3cret-0c44e1";

#[test]
fn a_filter_applied_to_a_secret_keeps_the_result_sensitive() {
    let mut world = World::new(
        r#"apply:
  - id: b64
    type: file
    path: "{{ root }}/b64"
    content: "{{ secrets.FILTER_SECRET | b64encode }}"
  - id: hash
    type: file
    path: "{{ root }}/hash"
    content: "{{ secrets.FILTER_SECRET | hash('sha256') }}"
  - id: crypt
    type: file
    path: "{{ root }}/crypt"
    content: "{{ secrets.FILTER_SECRET | password_hash('sha512', 'fixedsalt', rounds=5000) }}"
  - id: json
    type: file
    path: "{{ root }}/json"
    content: "{{ {'user': 'app', 'password': secrets.FILTER_SECRET} | to_nice_json }}"
  - id: public
    type: file
    path: "{{ root }}/public"
    content: "{{ 'not secret' | b64encode }}"
"#,
    );
    world
        .envs
        .push(("FILTER_SECRET".to_owned(), SECRET.to_owned()));
    let (_, plan) = world.plan();
    let text = plan.to_string();
    let derived = [
        SECRET.to_owned(),
        base64_of(SECRET),
        // sha256 of the secret, as the filter writes it.
        crate::common::sha256_hex(SECRET.as_bytes()),
        "fixedsalt$".to_owned(),
    ];
    for value in &derived {
        assert!(!text.contains(value.as_str()), "the plan shows {value}");
    }
    for id in ["b64", "hash", "crypt", "json"] {
        let planned = node(&plan, &format!("apply.{id}"));
        assert_eq!(planned["after"]["content"], "(sensitive)", "apply.{id}");
        assert_eq!(planned["after_sensitive"]["content"], true, "apply.{id}");
    }
    let public = &node(&plan, "apply.public")["after"]["content"];
    assert_eq!(public, "bm90IHNlY3JldA==");
    let run = world.apply();
    for value in &derived {
        assert!(!run.all().contains(value.as_str()), "apply shows {value}");
        for report in world.reports() {
            assert!(
                !report.to_string().contains(value.as_str()),
                "a report shows {value}"
            );
        }
    }
    assert_eq!(crate::common::read(&world.path("b64")), base64_of(SECRET));
    world.assert_converged();
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}
