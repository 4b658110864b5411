//! The account's Event APIs as an inventory, for `evctl list` and `evctl gc`: tag selectors,
//! ownership, age and namespace counts, and gc's decision for each API (delete, or keep and
//! why). Reads through [`ControlPlane`] only; rendering is `crate::output::inventory`'s.
//!
//! The one safety rule lives in [`decide`]: an API without evctl's ownership tag is never a
//! candidate for deletion, whatever the selectors say.

use std::fmt;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::control::{ControlError, ControlPlane, RetryPolicy};
use crate::engine::retry::retry_conflicts;
use crate::model::{OWNER_TAG_KEY, ObservedApi, Tags};

/// A tag condition, as in kubectl: `key=value`, `key!=value`, or `key` (the tag is present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
}

/// Why a selector cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {given:?}: {reason} (expected KEY=VALUE, KEY!=VALUE or KEY)")]
pub struct SelectorError {
    pub given: String,
    pub reason: &'static str,
}

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, SelectorError> {
        let fail = |reason| SelectorError {
            given: s.to_string(),
            reason,
        };
        let (key, value, negated) = match s.split_once('=') {
            Some((k, v)) => match k.strip_suffix('!') {
                Some(k) => (k, Some(v), true),
                None => (k, Some(v), false),
            },
            None => (s, None, false),
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(fail("the tag key is empty"));
        }
        if value.is_some_and(|v| v.contains('=')) {
            return Err(fail("more than one `=`"));
        }
        Ok(match (value, negated) {
            (Some(v), false) => Selector::Equals(key.into(), v.trim().into()),
            (Some(v), true) => Selector::NotEquals(key.into(), v.trim().into()),
            (None, _) => Selector::Exists(key.into()),
        })
    }

    /// Parses every selector, reporting the first bad one.
    pub fn parse_all(args: &[String]) -> Result<Vec<Selector>, SelectorError> {
        args.iter().map(|s| Selector::parse(s)).collect()
    }

    pub fn matches(&self, tags: &Tags) -> bool {
        match self {
            Selector::Equals(k, v) => tags.get(k) == Some(v),
            Selector::NotEquals(k, v) => tags.get(k) != Some(v),
            Selector::Exists(k) => tags.contains_key(k),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Equals(k, v) => write!(f, "{k}={v}"),
            Selector::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Selector::Exists(k) => f.write_str(k),
        }
    }
}

/// All selectors match (no selectors: everything matches).
pub fn selected(selectors: &[Selector], tags: &Tags) -> bool {
    selectors.iter().all(|s| s.matches(tags))
}

/// One API of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub id: String,
    pub arn: String,
    /// Carries evctl's ownership tag.
    pub owned: bool,
    /// Epoch seconds; `None` when the service did not say.
    #[serde(skip)]
    pub created_epoch: Option<i64>,
    /// RFC 3339.
    pub created: Option<String>,
    /// Seconds since creation (at the time of listing).
    pub age_seconds: Option<i64>,
    /// Every tag as stored, the ownership tag included.
    pub tags: Tags,
    /// How many channel namespaces it has.
    pub namespaces: usize,
}

impl Entry {
    fn new(api: ObservedApi, namespaces: usize, now: i64) -> Entry {
        Entry {
            name: api.config.name,
            id: api.id,
            arn: api.arn,
            owned: api.owned,
            created_epoch: api.created,
            created: api.created.map(crate::engine::diff::rfc3339),
            age_seconds: api.created.map(|c| (now - c).max(0)),
            tags: api.all_tags,
            namespaces,
        }
    }

    /// The user's tags: everything but the ownership tag.
    pub fn user_tags(&self) -> impl Iterator<Item = (&String, &String)> {
        self.tags
            .iter()
            .filter(|(k, _)| k.as_str() != OWNER_TAG_KEY)
    }
}

/// The APIs whose tags match every selector, sorted by name then id, each with its namespace
/// count (read `concurrency` APIs at a time).
pub async fn read<C: ControlPlane>(
    cp: &C,
    selectors: &[Selector],
    now: i64,
    concurrency: usize,
    retry: &RetryPolicy,
) -> Result<Vec<Entry>, ControlError> {
    let mut apis: Vec<ObservedApi> = retry_conflicts(retry, || cp.list_apis())
        .await?
        .into_iter()
        .map(|l| l.api)
        .filter(|api| selected(selectors, &api.all_tags))
        .collect();
    apis.sort_by(|a, b| (&a.config.name, &a.id).cmp(&(&b.config.name, &b.id)));
    futures_util::stream::iter(apis)
        .map(|api| async move {
            let id = api.id.clone();
            match retry_conflicts(retry, || cp.list_namespaces(&id)).await {
                Ok(ns) => Ok(Some(Entry::new(api, ns.len(), now))),
                // Deleted between the two calls: it is not in the account any more.
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })
        .buffered(concurrency.max(1))
        .try_filter_map(|e| async move { Ok(e) })
        .try_collect()
        .await
}

/// What gc does with one API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delete,
    Keep(KeepReason),
}

/// Why gc leaves an API alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepReason {
    /// No ownership tag: evctl never deletes what it did not create.
    NotOwned,
    /// Younger than `--older-than`.
    TooYoung { age: i64, cutoff: i64 },
    /// The service did not report a creation time, so the age cannot be checked.
    UnknownAge,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::engine::diff::human;
        match self {
            KeepReason::NotOwned => write!(
                f,
                "not created by evctl (no {OWNER_TAG_KEY} tag); evctl never deletes it"
            ),
            KeepReason::TooYoung { age, cutoff } => write!(
                f,
                "{} old, younger than --older-than {}",
                human(*age),
                human(*cutoff)
            ),
            KeepReason::UnknownAge => {
                f.write_str("creation time unknown, so its age cannot be checked")
            }
        }
    }
}

/// What gc did (or would do) with one API: the row of its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcRow {
    pub api: Entry,
    pub action: GcAction,
    /// Why it was kept, or why the deletion failed.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GcAction {
    Deleted,
    /// `--dry-run`: it would have been deleted.
    WouldDelete,
    Kept,
    Failed,
    /// Interrupted (or declined) before its deletion started.
    NotStarted,
}

impl GcAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GcAction::Deleted => "deleted",
            GcAction::WouldDelete => "would delete",
            GcAction::Kept => "kept",
            GcAction::Failed => "FAILED",
            GcAction::NotStarted => "not started",
        }
    }
}

/// gc's verdict for each entry (the entries already match the selectors).
pub fn decide(entries: &[Entry], older_than: Option<Duration>) -> Vec<Verdict> {
    let cutoff = older_than.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    entries
        .iter()
        .map(|e| {
            if !e.owned {
                return Verdict::Keep(KeepReason::NotOwned);
            }
            match (cutoff, e.age_seconds) {
                (None, _) => Verdict::Delete,
                (Some(_), None) => Verdict::Keep(KeepReason::UnknownAge),
                (Some(cutoff), Some(age)) if age < cutoff => {
                    Verdict::Keep(KeepReason::TooYoung { age, cutoff })
                }
                (Some(_), Some(_)) => Verdict::Delete,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::memory::Memory;
    use crate::model::{ApiConfig, OWNER_TAG_VALUE};

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config(name: &str) -> ApiConfig {
        ApiConfig {
            name: name.into(),
            owner_contact: None,
            tags: Tags::new(),
            auth_providers: Vec::new(),
            connection_auth_modes: Default::default(),
            default_publish_auth_modes: Default::default(),
            default_subscribe_auth_modes: Default::default(),
            log_config: None,
        }
    }

    #[test]
    fn selectors_parse_like_kubectl() {
        assert_eq!(
            Selector::parse("stage=pr-42"),
            Ok(Selector::Equals("stage".into(), "pr-42".into()))
        );
        assert_eq!(
            Selector::parse("stage!=prod"),
            Ok(Selector::NotEquals("stage".into(), "prod".into()))
        );
        assert_eq!(Selector::parse("ci"), Ok(Selector::Exists("ci".into())));
        assert_eq!(
            Selector::parse("evctl:managed-by=evctl"),
            Ok(Selector::Equals(
                OWNER_TAG_KEY.into(),
                OWNER_TAG_VALUE.into()
            ))
        );
        assert_eq!(
            Selector::parse("empty="),
            Ok(Selector::Equals("empty".into(), "".into()))
        );
        for bad in ["", "=x", "!=x", "a=b=c"] {
            assert!(Selector::parse(bad).is_err(), "{bad:?} should be refused");
        }
        for s in ["a=b", "a!=b", "a"] {
            assert_eq!(Selector::parse(s).map(|s| s.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn every_selector_must_match() {
        let t = tags(&[("stage", "pr-1"), ("ci", "true")]);
        let sel = |v: &[&str]| {
            Selector::parse_all(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("valid")
        };
        assert!(selected(&sel(&[]), &t));
        assert!(selected(&sel(&["stage=pr-1", "ci"]), &t));
        assert!(!selected(&sel(&["stage=pr-1", "ci=false"]), &t));
        assert!(selected(&sel(&["stage!=prod"]), &t));
        assert!(!selected(&sel(&["stage!=pr-1"]), &t));
        assert!(!selected(&sel(&["team"]), &t));
    }

    fn entry(owned: bool, age: Option<i64>) -> Entry {
        Entry {
            name: "x".into(),
            id: "id".into(),
            arn: "arn".into(),
            owned,
            created_epoch: age.map(|a| 1000 - a),
            created: None,
            age_seconds: age,
            tags: Tags::new(),
            namespaces: 0,
        }
    }

    #[test]
    fn gc_never_deletes_an_unowned_api_and_respects_the_cutoff() {
        let hour = Duration::from_secs(3600);
        let entries = [
            entry(false, Some(999_999)),
            entry(true, Some(7200)),
            entry(true, Some(60)),
            entry(true, None),
        ];
        assert_eq!(
            decide(&entries, Some(hour)),
            vec![
                Verdict::Keep(KeepReason::NotOwned),
                Verdict::Delete,
                Verdict::Keep(KeepReason::TooYoung {
                    age: 60,
                    cutoff: 3600
                }),
                Verdict::Keep(KeepReason::UnknownAge),
            ]
        );
        assert_eq!(
            decide(&entries, None),
            vec![
                Verdict::Keep(KeepReason::NotOwned),
                Verdict::Delete,
                Verdict::Delete,
                Verdict::Delete,
            ]
        );
        assert_eq!(
            decide(&entries[..1], Some(Duration::ZERO)),
            vec![Verdict::Keep(KeepReason::NotOwned)]
        );
    }

    #[tokio::test]
    async fn the_inventory_filters_sorts_and_counts_namespaces() {
        let mem = Memory::new();
        let owned = |extra: &[(&str, &str)]| {
            let mut t = tags(extra);
            t.insert(OWNER_TAG_KEY.into(), OWNER_TAG_VALUE.into());
            t
        };
        let b = mem.insert_api(&config("b"), &owned(&[("stage", "pr-1")]));
        let a = mem.insert_api(&config("a"), &owned(&[("stage", "pr-1")]));
        mem.insert_api(&config("c"), &tags(&[("stage", "pr-1")]));
        mem.insert_api(&config("d"), &owned(&[("stage", "prod")]));
        let ns = crate::model::NamespaceConfig {
            name: "chat".into(),
            publish_auth_modes: Default::default(),
            subscribe_auth_modes: Default::default(),
            code_handlers: None,
            handler_configs: Default::default(),
            tags: Tags::new(),
        };
        mem.create_namespace(&a, &ns).await.expect("namespace");

        let sel = [Selector::Equals("stage".into(), "pr-1".into())];
        let got = read(&mem, &sel, 100, 2, &RetryPolicy::default())
            .await
            .expect("read");
        let rows: Vec<(&str, &str, bool, usize)> = got
            .iter()
            .map(|e| (e.name.as_str(), e.id.as_str(), e.owned, e.namespaces))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("a", a.as_str(), true, 1),
                ("b", b.as_str(), true, 0),
                ("c", rows[2].1, false, 0)
            ]
        );
        assert_eq!(got[0].age_seconds, Some(100));
        assert_eq!(got[0].user_tags().count(), 1);
        assert_eq!(
            read(&mem, &[], 100, 2, &RetryPolicy::default())
                .await
                .expect("read")
                .len(),
            4
        );
    }
}
