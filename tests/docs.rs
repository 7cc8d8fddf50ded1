//! The docs are tested (no hub needed): every roster they show passes `--validate`, or
//! fails exactly as they say, and every relative link and `#anchor` resolves. The
//! conventions are in docs/testing.md ("The docs are tested"):
//!
//! - a fenced block whose info string is `yaml roster` is a whole roster and must be
//!   valid; `yaml roster invalid` must be refused, with the next fenced block being
//!   exactly what `--validate` prints on stderr;
//! - a fenced block with a top-level roster key and no `roster` marker is an error, so
//!   no example escapes the check;
//! - a link without a scheme names a file or directory that exists, and its fragment a
//!   heading of the target, as GitHub makes anchors.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The keys that only a roster has at its top level.
const ROSTER_KEYS: [&str; 5] = ["version", "people", "engineers", "defaults", "communities"];

/// What a dummy token variable holds.
const DUMMY_TOKEN: &str = "docs-example-token-0123";
/// What a dummy webhook variable holds (a URL, as `webhook_env` must name one).
const DUMMY_WEBHOOK: &str = "https://hooks.example.org/services/T0/B0/docs-example";

#[test]
fn every_roster_the_docs_show_is_valid_or_fails_as_shown_and_every_one_is_marked() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let blocks = fenced_blocks(&read(&file));
        for (i, block) in blocks.iter().enumerate() {
            let place = format!("{}:{}", relative(&file), block.line);
            if !block.is_roster() {
                if has_roster_keys(&block.text) {
                    problems.push(format!(
                        "{place}: a fenced block with top-level roster keys is not marked \
                         (write ```yaml roster, or ```yaml roster invalid for an error shown on purpose)"
                    ));
                }
                continue;
            }
            checked += 1;
            let shown = block.is_invalid().then(|| blocks.get(i + 1));
            problems.extend(check_roster(&place, &block.text, shown));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the docs' rosters:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The README's, the roster page's (a valid one, an invalid one and admin_roles'), and
    // the single-VM form's, at least: a check that found none would prove nothing.
    assert!(checked >= 5, "only {checked} rosters found in the docs");
}

#[test]
fn every_relative_link_and_anchor_in_the_docs_resolves() {
    let files = markdown_files();
    let problems: Vec<String> = files.iter().flat_map(|f| broken_links(f)).collect();
    assert!(
        problems.is_empty(),
        "{} broken link(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    let links: usize = files.iter().map(|f| links(&read(f)).len()).sum();
    assert!(links >= 50, "only {links} links found in the docs");
}

/// The checks themselves, on made-up pages: an unmarked roster, a roster that the docs
/// say is valid but is not, an error shown wrongly, a missing file and a missing anchor
/// are each caught; a heading's anchor is GitHub's.
#[test]
fn the_checks_catch_an_unmarked_roster_a_wrong_example_and_broken_links() {
    let page =
        "# T\n\n```yaml\ncommunities: []\n```\n\n```yaml roster\ncommunities:\n  - name: c\n```\n";
    let blocks = fenced_blocks(page);
    assert_eq!(blocks.len(), 2);
    assert!(!blocks[0].is_roster() && has_roster_keys(&blocks[0].text));
    assert!(blocks[1].is_roster() && !blocks[1].is_invalid());
    let refused = check_roster("made-up", &blocks[1].text, None);
    assert!(
        refused
            .iter()
            .any(|p| p.contains("a community has one or two")),
        "a roster without a representative is refused: {refused:?}"
    );
    let wrong_output = fenced_blocks("```text\nerror: something else\n```\n");
    let mismatch = check_roster("made-up", &blocks[1].text, Some(wrong_output.first()));
    assert!(
        mismatch.iter().any(|p| p.contains("differs from what")),
        "{mismatch:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    common::write_file(
        dir.path(),
        "a.md",
        "# A page\n\n## The hub's side (`--listen ADDR`)\n\n## Twice\n\n## Twice\n\n\
         [ok](b.md#the-hubs-side---listen-addr) [ok](#twice-1) [ok](b.md) \
         `[not a link](nowhere.md)` [web](https://example.org/x)\n\n\
         [gone](missing.md) [no anchor](b.md#nowhere) [here](#nothing)\n\n\
         ```\n[in code](nowhere.md)\n```\n",
    );
    common::write_file(dir.path(), "b.md", "## The hub's side (`--listen ADDR`)\n");
    let broken = broken_links(&dir.path().join("a.md"));
    let broken: Vec<&str> = broken
        .iter()
        .map(|p| p.rsplit(": ").next().unwrap())
        .collect();
    assert_eq!(
        broken,
        ["missing.md", "b.md#nowhere", "#nothing"],
        "exactly the broken links, in order"
    );
    assert_eq!(
        anchors("# X\n## Every path to admin\n### 1. On each pull request: who gains\n## X\n"),
        BTreeSet::from([
            "x".to_string(),
            "every-path-to-admin".to_string(),
            "1-on-each-pull-request-who-gains".to_string(),
            "x-1".to_string(),
        ])
    );
}

// ---------------------------------------------------------------------------------------
// Rosters
// ---------------------------------------------------------------------------------------

/// Validates `roster` as `roster.yaml` in a fresh directory, with a dummy value for each
/// variable it names. Valid unless `shown` is given: then it must be refused, and the
/// block `shown` holds must be exactly the error printed.
fn check_roster(place: &str, roster: &str, shown: Option<Option<&Block>>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    common::write_file(dir.path(), "roster.yaml", roster);
    let env = variables(roster);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let out = common::command(&env)
        .current_dir(dir.path())
        .args(["--validate", "--config", "roster.yaml"])
        .output()
        .expect("run jupyterhub-admin-sync");
    let stderr = common::stderr(&out);
    let Some(shown) = shown else {
        return match out.status.code() {
            Some(0) => Vec::new(),
            code => vec![format!(
                "{place}: the roster shown as valid is not (exit {code:?}):\n{stderr}"
            )],
        };
    };
    let mut problems = Vec::new();
    if out.status.code() != Some(1) {
        problems.push(format!(
            "{place}: the roster shown as invalid exits {:?}, not 1:\n{stderr}",
            out.status.code()
        ));
    }
    match shown {
        None => problems.push(format!(
            "{place}: an invalid roster must be followed by a fenced block with its error"
        )),
        Some(block) if block.text.trim_end() != stderr.trim_end() => problems.push(format!(
            "{place}: the error shown (line {}) differs from what --validate prints:\n{stderr}",
            block.line
        )),
        Some(_) => {}
    }
    problems
}

/// A dummy value for every `token_env` and `webhook_env` the roster names.
fn variables(roster: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for line in roster.lines() {
        for (key, value) in [("token_env:", DUMMY_TOKEN), ("webhook_env:", DUMMY_WEBHOOK)] {
            let Some((_, rest)) = line.split_once(key) else {
                continue;
            };
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches(|c| matches!(c, '"' | '\'' | ',' | '}'));
            if !name.is_empty() {
                out.push((name.to_string(), value));
            }
        }
    }
    out
}

/// True when a line of `text` begins with a roster's top-level key.
fn has_roster_keys(text: &str) -> bool {
    text.lines().any(|line| {
        ROSTER_KEYS
            .iter()
            .any(|key| line.strip_prefix(key).is_some_and(|r| r.starts_with(':')))
    })
}

// ---------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------

/// The pages: the top-level ones, `docs/`, and `deploy/`'s.
fn markdown_files() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut files: Vec<PathBuf> = [
        "README.md",
        "ARCHITECTURE.md",
        "SECURITY.md",
        "BENCHMARKS.md",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    for dir in ["docs", "deploy"] {
        collect_markdown(&root.join(dir), &mut files);
    }
    files
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_markdown(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(ROOT)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A fenced code block.
#[derive(Debug)]
struct Block {
    /// The line of its opening fence, from 1.
    line: usize,
    /// The words after the fence: the language, then markers.
    info: Vec<String>,
    /// Its lines, without the fence's indentation.
    text: String,
}

impl Block {
    fn is_roster(&self) -> bool {
        self.info.iter().skip(1).any(|w| w == "roster")
    }

    fn is_invalid(&self) -> bool {
        self.info.iter().skip(1).any(|w| w == "invalid")
    }
}

/// The fenced blocks of a page (``` or ~~~, three or more, indented or not).
fn fenced_blocks(page: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, Block)> = None;
    for (n, line) in page.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(fence) = fence_of(trimmed) {
                    let info = trimmed[fence.len()..]
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    let block = Block {
                        line: n + 1,
                        info,
                        text: String::new(),
                    };
                    open = Some((fence, indent, block));
                }
            }
            Some((fence, fence_indent, block)) => {
                if let Some(f) = fence_of(trimmed)
                    && f.starts_with(fence.as_str())
                    && trimmed.trim_end() == f
                {
                    blocks.push(open.take().unwrap().2);
                    continue;
                }
                let cut = indent.min(*fence_indent);
                block.text.push_str(&line[cut..]);
                block.text.push('\n');
            }
        }
    }
    blocks
}

/// The fence a line opens with (three or more backticks or tildes), if any.
fn fence_of(trimmed: &str) -> Option<String> {
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let fence: String = trimmed.chars().take_while(|x| *x == c).collect();
    (fence.len() >= 3).then_some(fence)
}

/// The page's lines outside fenced blocks, with their numbers (from 1).
fn prose(page: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for (n, line) in page.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&fence, fence_of(trimmed)) {
            (None, Some(f)) => fence = Some(f),
            (None, None) => out.push((n + 1, line)),
            (Some(open), Some(f)) if f.starts_with(open.as_str()) && trimmed.trim_end() == f => {
                fence = None
            }
            (Some(_), _) => {}
        }
    }
    out
}

/// `line` without its code spans.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every link target of a page outside code: `[text](target)` and `[label]: target`.
fn links(page: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(page) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            out.push((n, target.to_string()));
            rest = &after[end..];
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((_, target)) = trimmed.split_once("]: ")
        {
            out.push((n, target.trim().to_string()));
        }
    }
    out
}

/// The links of `file` whose file or anchor does not exist, as `file:line: target`.
fn broken_links(file: &Path) -> Vec<String> {
    let page = read(file);
    let dir = file.parent().unwrap();
    let mut problems = Vec::new();
    for (line, target) in links(&page) {
        if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target.as_str(), None),
        };
        let resolved = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(path)
        };
        let ok = resolved.exists()
            && anchor.is_none_or(|a| {
                resolved.extension().is_some_and(|e| e == "md")
                    && anchors(&read(&resolved)).contains(a)
            });
        if !ok {
            problems.push(format!("{}:{line}: {target}", relative(file)));
        }
    }
    problems
}

/// The anchors GitHub gives a page's headings: lowercase, every character but letters,
/// digits, `-`, `_` and spaces dropped, spaces as `-`; a repeated one gets `-1`, `-2`, ….
fn anchors(page: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (_, line) in prose(page) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while seen.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        seen.insert(unique);
    }
    seen
}
