//! The roster's JSON Schema: `schema` prints exactly the shipped
//! config/roster.schema.json, and every example roster names it for editors.
//! (CI checks the examples against it with check-jsonschema: deploy/check.sh.)

mod common;

use std::path::Path;

#[test]
fn the_shipped_schema_is_what_schema_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::run(&["schema"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
    let shipped = std::fs::read_to_string(root.join("config/roster.schema.json")).unwrap();
    assert!(
        shipped == String::from_utf8(out.stdout).unwrap(),
        "config/roster.schema.json is out of date: jupyterhub-admin-sync schema > config/roster.schema.json"
    );
    let schema: serde_json::Value = serde_json::from_str(&shipped).unwrap();
    // deny_unknown_fields is additionalProperties: false, at the top and below.
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["$defs"]["Hub"]["additionalProperties"], false);
    assert_eq!(
        schema["$defs"]["Hub"]["required"],
        serde_json::json!(["name", "api_url"])
    );
}

#[test]
fn every_example_roster_names_the_schema_on_its_first_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files = vec![(root.join("roster.example.yaml"), "roster.schema.json")];
    for entry in std::fs::read_dir(root.join("roster.d")).unwrap() {
        files.push((entry.unwrap().path(), "../roster.schema.json"));
    }
    for (file, schema) in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(format!("# yaml-language-server: $schema={schema}").as_str()),
            "{}",
            file.display()
        );
    }
}
