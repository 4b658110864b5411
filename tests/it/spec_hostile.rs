//! Hostile input never crashes or hangs `evctl validate`: each case ends with exit code 1 and
//! one clear diagnostic. (The timeout is a hang guard, not a performance assertion.)

use std::path::Path;
use std::time::Duration;

use crate::support::{evctl, write};

fn rejects(path: &Path, expected: &str) {
    let out = evctl()
        .arg("validate")
        .arg(path)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run evctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    rejects(&write(dir.path(), "empty.yaml", ""), "the spec is empty");
    rejects(
        &write(dir.path(), "blank.yaml", "\n\n# only a comment\n"),
        "the spec is empty",
    );
}

#[test]
fn binary_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Deterministic bytes covering every value, NULs and invalid UTF-8 included.
    let bytes: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let path = dir.path().join("garbage.yaml");
    std::fs::write(&path, bytes).expect("write");
    rejects(&path, "not UTF-8");
    // Valid UTF-8 that is not YAML: control characters.
    rejects(
        &write(dir.path(), "controls.yaml", "version: 1\u{1}\u{2}\n\u{0}"),
        "error[syntax]",
    );
}

#[test]
fn non_utf8_text_is_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"version: 1\napi:\n  name: caf\xe9\n").expect("write");
    rejects(&path, "latin1.yaml:3:12");
}

#[test]
fn a_50_mb_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.yaml");
    let line = "key: a value that repeats until the file is very large\n";
    let text = line.repeat(50 * 1024 * 1024 / line.len() + 1);
    std::fs::write(&path, text).expect("write");
    rejects(&path, "larger than 4 MiB");
}

#[test]
fn deep_nesting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = format!(
        "version: 1\napi: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    rejects(&write(dir.path(), "flow.yaml", &flow), "recursion limit");
    let block: String = (0..2_000)
        .map(|i| format!("{}a:\n", "  ".repeat(i)))
        .collect();
    rejects(&write(dir.path(), "block.yaml", &block), "recursion limit");
}

#[test]
fn a_yaml_alias_bomb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    rejects(&write(dir.path(), "bomb.yaml", &text), "repetition limit");
}

#[test]
fn a_directory_and_a_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    rejects(dir.path(), "is a directory");
    rejects(&dir.path().join("nope.yaml"), "no such file");
}
