//! `diff` on a corpus of roster pairs (tests/fixtures/diff/<case>/): each case's
//! `base` and `new` (files or directories) give exactly `expected.txt` and
//! `expected.md` on stdout, `expected.stderr` on stderr, and the exit code in
//! `expected.exit`. Expiry is judged on a fixed day; no token variable is set and no
//! hub exists. `BLESS=1 cargo test --test diff` rewrites the expectations (read them
//! before committing).

mod common;

use std::path::{Path, PathBuf};

const TODAY: &str = "2026-03-01";

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// The case named `name`.
fn case(name: &str) -> PathBuf {
    cases()
        .into_iter()
        .find(|c| c.ends_with(name))
        .unwrap_or_else(|| panic!("no case {name} in tests/fixtures/diff"))
}

/// `base.yaml` or the directory `base`, relative to the case (so messages name it so).
fn side(case: &Path, name: &str) -> String {
    if case.join(name).is_dir() {
        name.to_string()
    } else {
        format!("{name}.yaml")
    }
}

fn diff(case: &Path, output: &str) -> std::process::Output {
    let (base, new) = (side(case, "base"), side(case, "new"));
    common::command(&[("RUST_LOG", "error")])
        .current_dir(case)
        .args([
            "diff", "--base", &base, "--config", &new, "--today", TODAY, "--output", output,
        ])
        .output()
        .expect("run jupyterhub-admin-sync diff")
}

fn check(case: &Path, file: &str, actual: &str, failures: &mut Vec<String>) {
    let path = case.join(file);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
    if expected != actual {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ));
    }
}

#[test]
fn every_case_gives_exactly_its_expected_output_and_exit_code() {
    let cases = cases();
    assert!(cases.len() >= 10, "{cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let text = diff(case, "text");
        let md = diff(case, "markdown");
        let stdout = |o: &std::process::Output| String::from_utf8(o.stdout.clone()).unwrap();
        check(case, "expected.txt", &stdout(&text), &mut failures);
        check(case, "expected.md", &stdout(&md), &mut failures);
        check(
            case,
            "expected.stderr",
            &String::from_utf8(text.stderr.clone()).unwrap(),
            &mut failures,
        );
        check(
            case,
            "expected.exit",
            &format!("{}\n", text.status.code().unwrap()),
            &mut failures,
        );
        assert_eq!(text.status.code(), md.status.code(), "{}", case.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn json_output_lists_the_same_changes() {
    let out = diff(&case("admin-added"), "json");
    let json = common::exit_report(&out, 2);
    assert_eq!(json["on"], TODAY);
    assert_eq!(json["hubs"][0]["name"], "climate-prod");
    assert_eq!(json["hubs"][0]["changes"][0]["user"], "frank");
    assert_eq!(json["hubs"][0]["changes"][0]["change"], "gains");
    assert_eq!(json["hubs"][0]["changes"][0]["now"]["added_by"], "dave");
}

/// In the markdown of crafted names, everything outside code spans is the tool's
/// own text: no mention, tag, link or extra table cell can come from a name.
#[test]
fn crafted_names_render_inert_in_markdown() {
    let out = diff(&case("injection"), "markdown");
    common::assert_exit(&out, 2);
    let md = String::from_utf8(out.stdout).unwrap();
    for line in md.lines().skip(1) {
        let outside = outside_code_spans(line)
            .unwrap_or_else(|| panic!("an unclosed code span in {line:?}\n{md}"));
        for bad in ['@', '<', '>', '[', ']', '(', '\\'] {
            // The tool's own "(community …)" and "(judged on …)" use parentheses.
            if bad == '(' && (outside.contains("(community") || outside.contains("(judged")) {
                continue;
            }
            assert!(
                !outside.contains(bad),
                "{bad:?} outside a code span in {line:?}\n{md}"
            );
        }
        if line.starts_with('|') {
            let b = line.as_bytes();
            let cells = (0..b.len())
                .filter(|&i| b[i] == b'|' && b[i - 1.min(i)] != b'\\' || i == 0)
                .count();
            assert_eq!(cells, 4, "a row with other than 3 cells: {line:?}");
        }
    }
}

/// The text of `line` outside its code spans, or None when a span is not closed.
fn outside_code_spans(line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n = chars[i..].iter().take_while(|&&c| c == '`').count();
        let mut j = i + n;
        loop {
            if j >= chars.len() {
                return None;
            }
            if chars[j] == '`' {
                let m = chars[j..].iter().take_while(|&&c| c == '`').count();
                j += m;
                if m == n {
                    break;
                }
            } else {
                j += 1;
            }
        }
        i = j;
    }
    Some(out)
}
