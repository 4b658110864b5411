//! The invalid-spec corpus: every file under tests/fixtures/spec/invalid/ must be rejected with
//! the located error its first line announces (`# expect: CODE PATH`), and the whole rendered
//! report is pinned by a snapshot.

use std::path::{Path, PathBuf};

use evctl::spec::{self, Vars};

/// Fixed, so absolute key expiry dates in the corpus mean the same thing every day.
const NOW: time::OffsetDateTime = time::macros::datetime!(2025-06-01 00:00 UTC);

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new("tests/fixtures/spec/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_corpus_is_large_enough() {
    assert!(
        fixtures().len() >= 40,
        "only {} invalid specs",
        fixtures().len()
    );
}

#[test]
fn every_invalid_spec_is_rejected_with_its_located_error() {
    for path in fixtures() {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("fixture readable");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be `# expect: CODE PATH`"));
        let (code, field) = expect.split_once(' ').unwrap_or((expect, ""));

        let err = match spec::load_at(&path, &Vars::none(), NOW) {
            Ok(_) => panic!("{name}: accepted an invalid spec"),
            Err(e) => e,
        };
        let hit = err
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == code && d.path == field)
            .unwrap_or_else(|| panic!("{name}: expected {code} at `{field}`, got:\n{err}"));
        assert!(hit.is_error(), "{name}: {hit:?}");
        assert!(
            hit.line.is_some() && hit.column.is_some(),
            "{name}: no location: {hit:?}"
        );
        assert!(!hit.message.is_empty());
        insta::assert_snapshot!(name, err.to_string());
    }
}

#[test]
fn a_file_with_many_problems_reports_all_of_them_in_file_order() {
    let err = spec::load_at(
        Path::new("tests/fixtures/spec/invalid/many-errors.yaml"),
        &Vars::none(),
        NOW,
    )
    .expect_err("invalid");
    assert!(err.error_count() >= 9, "{err}");
    let lines: Vec<usize> = err.diagnostics.iter().filter_map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "diagnostics are in file order");
}
