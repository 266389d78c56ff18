//! `grammar/` holds the JSON Schema generated from the model's types; editors validate configs
//! with it. This test fails when a model change was not followed by regenerating it.

#[test]
fn config_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grammar/config.schema.json"
    ))
    .expect("grammar/config.schema.json");
    let generated = driftless::grammar::config_schema_text();
    assert!(
        committed == generated,
        "grammar/config.schema.json is out of date: run `cargo run -- schema > grammar/config.schema.json`"
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("schema")
        .output()
        .expect("run driftless schema");
    assert!(output.status.success());
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grammar/config.schema.json"
    ))
    .expect("grammar/config.schema.json");
    assert_eq!(output.stdout, committed);
}
