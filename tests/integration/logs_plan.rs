//! Log pipelines as plan nodes: `plan` records a `logs.<id>` node with the files its globs
//! match and their checkpointed positions, the parser, filters and outputs (credentials by
//! secret name only); `show` prints it; `execute` ships what the files hold once and
//! checkpoints, which the next plan shows.

use crate::logs_support::{LogsWorld, append_lines, numbered, numbers_in};

const PIPELINE: &str = "logs:\n  - id: app\n    source: { type: file, paths: [\"{in}/*.log\"], start_at: beginning }\n    parser: { type: json }\n    filters:\n      - { type: include, field: message, pattern: \"seq\" }\n    outputs:\n      - { type: file, path: \"{out}/app.out\", encoding: text }\n      - type: http\n        url: \"http://127.0.0.1:9/never\"\n        auth: { type: bearer, token: { secret: LOG_TOKEN } }\n";

fn planned(world: &LogsWorld) -> (std::path::PathBuf, serde_json::Value) {
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 0, "plan failed:\n{}", run.all());
    let path = world.base.join("plan.json");
    std::fs::write(&path, &run.stdout).expect("write plan");
    (path, run.json())
}

fn logs_node(plan: &serde_json::Value) -> &serde_json::Value {
    plan["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["address"] == "logs.app")
        .expect("a logs.app node")
}

#[test]
fn plan_records_the_files_and_positions_show_prints_them_and_execute_ships_once() {
    let mut world = LogsWorld::new(&PIPELINE.replace(
        "      - type: http\n        url: \"http://127.0.0.1:9/never\"\n        auth: { type: bearer, token: { secret: LOG_TOKEN } }\n",
        "",
    ));
    world.envs = vec![("LOG_TOKEN".to_owned(), "planted-token-83dj2".to_owned())];
    append_lines(&world.input("app.log"), 0..1000);
    let size = (numbered(0).len() * 1000) as u64;
    let (path, plan) = planned(&world);
    assert_eq!(plan["format_version"], "1.6");
    assert_eq!(plan["summary"]["ship"], 1);
    let node = logs_node(&plan);
    assert_eq!(node["kind"], "logs");
    assert_eq!(node["type"], "file");
    assert_eq!(node["action"], "ship");
    assert_eq!(node["precondition"], "none");
    let files = &node["before"]["files"];
    assert_eq!(
        files[0]["path"],
        world.input("app.log").display().to_string()
    );
    assert_eq!(files[0]["position"], 0);
    assert_eq!(files[0]["size"], size);
    assert_eq!(files[0]["behind"], size);
    assert_eq!(node["before"]["bytes_behind"], size);
    assert_eq!(node["after"]["parser"]["type"], "json");
    assert_eq!(node["after"]["filters"][0]["type"], "include");
    assert_eq!(node["after"]["outputs"][0]["type"], "file");

    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert!(
        show.stdout.contains("logs.app ship file source, 1 file,"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("output: file"), "{}", show.stdout);
    assert!(
        show.stdout.contains(&format!("app.log: at 0 of {size}")),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("1 log pipeline to ship"),
        "{}",
        show.stdout
    );

    let run = world.run(&["execute", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "execute failed:\n{}", run.all());
    let out = std::fs::read_to_string(world.output("app.out")).expect("output");
    // Not JSON lines: the parser's failure keeps the raw line (tagged), the filter keeps it.
    assert_eq!(numbers_in(&out), (0..1000).collect::<Vec<_>>());

    // The checkpoint moved: the next plan has nothing behind, and a second execute of a new
    // plan ships nothing again.
    let (path, plan) = planned(&world);
    let files = &logs_node(&plan)["before"]["files"];
    assert_eq!(files[0]["position"], size);
    assert_eq!(files[0]["behind"], 0);
    let run = world.run(&["execute", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    let out = std::fs::read_to_string(world.output("app.out")).expect("output");
    assert_eq!(numbers_in(&out).len(), 1000);
}

#[test]
fn a_logs_node_names_credentials_by_secret_only() {
    let mut world = LogsWorld::new(PIPELINE);
    world.envs = vec![("LOG_TOKEN".to_owned(), "planted-token-83dj2".to_owned())];
    let (path, plan) = planned(&world);
    let text = plan.to_string();
    assert!(text.contains("LOG_TOKEN"), "the secret's name is recorded");
    assert!(!text.contains("planted-token-83dj2"));
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert!(!show.all().contains("planted-token-83dj2"));
}

#[test]
fn execute_refuses_a_logs_node_whose_pipeline_changed_since_the_plan() {
    let world = LogsWorld::new(&PIPELINE.replace(
        "      - type: http\n        url: \"http://127.0.0.1:9/never\"\n        auth: { type: bearer, token: { secret: LOG_TOKEN } }\n",
        "",
    ));
    append_lines(&world.input("app.log"), 0..10);
    let (path, _) = planned(&world);
    world.set_config(&PIPELINE.replace(
        "      - type: http\n        url: \"http://127.0.0.1:9/never\"\n        auth: { type: bearer, token: { secret: LOG_TOKEN } }\n",
        "",
    ).replace("pattern: \"seq\"", "pattern: \"other\""));
    let run = world.run(&["execute", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!world.output("app.out").exists(), "nothing shipped");
}
