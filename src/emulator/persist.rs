//! The `--state FILE`: the whole [`Store`] as one JSON document, loaded at start and rewritten
//! after every change.
//!
//! Writes go to a temporary file in the same directory, are flushed to disk, then renamed over
//! the old file, so a kill at any moment leaves either the old or the new state, never a torn
//! one. A file that is not ours (no evctl marker), is corrupt, or was written for another
//! region or account is refused with an error naming the file; it is never overwritten.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::store::{Account, Store};

/// The marker that says a file is an evctl emulator state file.
pub const FORMAT: &str = "evctl-emulator-state";
/// The version of the document layout.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    format: String,
    version: u32,
    store: Store,
}

/// Reads the state file: `Ok(None)` when it does not exist or is empty (a fresh state, e.g. a
/// file made by `mktemp`), the store when it is ours and matches `account`.
pub fn load(path: &Path, account: &Account) -> anyhow::Result<Option<Store>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("could not read the state file {}", path.display()));
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let refuse = |why: String| {
        anyhow::anyhow!(
            "{} is not a usable evctl emulator state file: {why}; refusing to overwrite it \
             (move it away or pass another --state path)",
            path.display()
        )
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| refuse(format!("it is not valid JSON ({e})")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(refuse(format!("it has no \"format\": \"{FORMAT}\" marker")));
    }
    let version = value.get("version").and_then(|v| v.as_u64());
    if version != Some(u64::from(VERSION)) {
        return Err(refuse(format!(
            "it is version {}, this evctl reads version {VERSION}",
            version.map_or_else(|| "unknown".to_string(), |v| v.to_string())
        )));
    }
    let doc: Document = serde_path_to_error::deserialize(value)
        .map_err(|e| refuse(format!("it is corrupt at {} ({})", e.path(), e.inner())))?;
    if doc.store.account != *account {
        bail!(
            "the state file {} holds APIs of region {} and account {}; start the emulator with \
             --region {} --account-id {} to use it, or pass another --state path",
            path.display(),
            doc.store.account.region,
            doc.store.account.account_id,
            doc.store.account.region,
            doc.store.account.account_id
        );
    }
    Ok(Some(doc.store))
}

/// Writes `store` to `path` atomically (temporary file, fsync, rename).
pub fn save(path: &Path, store: &Store) -> anyhow::Result<()> {
    let doc = Document {
        format: FORMAT.to_string(),
        version: VERSION,
        store: store.clone(),
    };
    let bytes =
        serde_json::to_vec_pretty(&doc).context("could not serialise the emulator state")?;
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("could not write the state file {}", path.display()))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    #[test]
    fn round_trips_and_refuses_what_is_not_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        assert_eq!(load(&path, &account()).expect("missing is fresh"), None);
        let store = Store::new(account());
        save(&path, &store).expect("save");
        assert_eq!(load(&path, &account()).expect("load"), Some(store));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);

        std::fs::write(&path, "{\"hello\": 1}").expect("write");
        let err = load(&path, &account())
            .expect_err("should fail")
            .to_string();
        assert!(err.contains("refusing to overwrite"), "{err}");

        std::fs::write(&path, "{\"format\": \"evctl-emulator-state\", \"ver").expect("write");
        let err = load(&path, &account())
            .expect_err("should fail")
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");

        save(&path, &Store::new(account())).expect("save");
        let other = Account {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        let err = load(&path, &other).expect_err("should fail").to_string();
        assert!(err.contains("--region us-east-1"), "{err}");

        std::fs::write(&path, "").expect("empty");
        assert_eq!(load(&path, &account()).expect("empty is fresh"), None);
    }
}
