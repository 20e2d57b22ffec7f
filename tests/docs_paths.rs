//! What a new user reads names only files that exist: every repository path cited in the
//! README, `docs/`, `loadtest/README.md` and the scenario files' usage comments.

use std::path::Path;

/// Top-level directories whose files the docs cite.
const ROOTS: &[&str] = &[
    "profiles/",
    "loadtest/",
    "deploy/",
    "k8s/",
    "grafana/",
    "scripts/",
    "docs/",
    "engine/",
    "harness/",
    "benches/",
    "tests/",
    "src/",
];

/// The repository paths cited in `text`: a root, then path characters, ending in a file
/// name with an extension or in a directory `/`.
fn cited(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for root in ROOTS {
        let mut from = 0;
        while let Some(i) = text[from..].find(root) {
            let start = from + i;
            from = start + root.len();
            // Not the tail of another path (`target/release/...`, `/etc/mabeam/...`).
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || "/_.-~$".contains(c)) {
                continue;
            }
            let len = text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/_.-".contains(c)))
                .unwrap_or(text.len() - start);
            let path = text[start..start + len].trim_end_matches('.');
            let file = path.rsplit('/').next().unwrap_or("");
            if path.ends_with('/') || file.contains('.') {
                out.push(path.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_cited_repository_path_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md"), root.join("loadtest/README.md")];
    for dir in ["docs", "loadtest"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md" || x == "toml") {
                docs.push(p);
            }
        }
    }
    let mut missing = Vec::new();
    let mut seen = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for path in cited(&text) {
            seen += 1;
            if !root.join(&path).exists() {
                missing.push(format!(
                    "{}: {path}",
                    doc.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(seen > 20, "only {seen} paths found: the scan is broken");
    assert!(
        missing.is_empty(),
        "cited but missing:\n{}",
        missing.join("\n")
    );
}
