//! Channel names: parsing, normalisation and wildcard matching (reference C.6).
//!
//! A channel is 1 to 5 `/`-separated segments of 1 to 50 characters from `[A-Za-z0-9-]`, not
//! starting or ending with `-`; a leading and a trailing `/` are optional and do not change the
//! channel. The first segment names the channel namespace. A subscription may end in the
//! segment `*`, which matches every channel one or more segments deeper (`/ns/*` matches
//! `/ns/a` and `/ns/a/b`, not `/ns`); `*` anywhere else, partial wildcards (`a*`) and `**` are
//! invalid, and a publish never names a wildcard. This module is pure: no namespaces lookup.

use std::fmt;

/// Most segments in a channel (a subscription's trailing `*` included).
pub const MAX_SEGMENTS: usize = 5;
/// Longest segment.
pub const MAX_SEGMENT_CHARS: usize = 50;

/// A concrete channel, as published to. Stored without leading or trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Channel {
    path: String,
}

/// What a subscription listens to: one channel, or every channel below a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    Exact(Channel),
    /// `prefix/*`: channels strictly below `prefix`.
    Below(Channel),
}

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid channel '{channel}': {reason}")]
pub struct ChannelError {
    pub channel: String,
    pub reason: String,
}

impl Channel {
    /// Parses a channel to publish to; wildcards are refused.
    pub fn parse(raw: &str) -> Result<Channel, ChannelError> {
        match Pattern::parse(raw)? {
            Pattern::Exact(c) => Ok(c),
            Pattern::Below(_) => Err(error(raw, "a wildcard channel cannot be published to")),
        }
    }

    /// The namespace, i.e. the first segment.
    pub fn namespace(&self) -> &str {
        self.path.split('/').next().unwrap_or_default()
    }

    /// Segments, namespace first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/')
    }

    /// The normalised path without slashes at either end (`ns/a/b`): the key of the channel.
    pub fn key(&self) -> &str {
        &self.path
    }

    /// The path as AppSync shows it to handlers: `/ns/a/b`.
    pub fn path(&self) -> String {
        format!("/{}", self.path)
    }

    /// Keys of the prefixes a `Below` subscription may hold to match this channel, i.e. every
    /// proper prefix at a segment boundary (`ns`, `ns/a` for `ns/a/b`).
    pub fn wildcard_prefixes(&self) -> impl Iterator<Item = &str> {
        self.path.match_indices('/').map(|(i, _)| &self.path[..i])
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.path)
    }
}

impl Pattern {
    /// Parses a subscription channel.
    pub fn parse(raw: &str) -> Result<Pattern, ChannelError> {
        let trimmed = raw.strip_prefix('/').unwrap_or(raw);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(error(raw, "a channel needs at least a namespace segment"));
        }
        let segments: Vec<&str> = trimmed.split('/').collect();
        if segments.len() > MAX_SEGMENTS {
            return Err(error(
                raw,
                &format!(
                    "at most {MAX_SEGMENTS} segments are allowed, got {}",
                    segments.len()
                ),
            ));
        }
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            if *segment == "*" {
                if i != last {
                    return Err(error(raw, "'*' is only allowed as the last segment"));
                }
                if i == 0 {
                    return Err(error(
                        raw,
                        "the first segment must name a channel namespace",
                    ));
                }
                continue;
            }
            check_segment(raw, segment)?;
        }
        if segments[last] == "*" {
            Ok(Pattern::Below(Channel {
                path: segments[..last].join("/"),
            }))
        } else {
            Ok(Pattern::Exact(Channel {
                path: trimmed.to_string(),
            }))
        }
    }

    pub fn namespace(&self) -> &str {
        match self {
            Pattern::Exact(c) | Pattern::Below(c) => c.namespace(),
        }
    }

    /// Whether an event published to `channel` reaches this subscription.
    pub fn matches(&self, channel: &Channel) -> bool {
        match self {
            Pattern::Exact(c) => c == channel,
            Pattern::Below(prefix) => channel
                .path
                .strip_prefix(prefix.path.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(c) => write!(f, "{c}"),
            Pattern::Below(c) => write!(f, "{c}/*"),
        }
    }
}

fn check_segment(raw: &str, segment: &str) -> Result<(), ChannelError> {
    if segment.is_empty() {
        return Err(error(raw, "segments cannot be empty"));
    }
    if segment.len() > MAX_SEGMENT_CHARS {
        return Err(error(
            raw,
            &format!(
                "segment '{}…' is longer than {MAX_SEGMENT_CHARS} characters",
                &segment[..segment.floor_char_boundary(20)]
            ),
        ));
    }
    if let Some(bad) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(error(
            raw,
            &format!("segment '{segment}' contains '{bad}' (allowed: A-Z, a-z, 0-9 and '-')"),
        ));
    }
    if segment.starts_with('-') || segment.ends_with('-') {
        return Err(error(
            raw,
            &format!("segment '{segment}' cannot start or end with '-'"),
        ));
    }
    Ok(())
}

fn error(raw: &str, reason: &str) -> ChannelError {
    // Channel names come from peers: keep what is echoed back short.
    let channel = if raw.len() > 300 {
        format!("{}…", &raw[..raw.floor_char_boundary(300)])
    } else {
        raw.to_string()
    };
    ChannelError {
        channel,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> Channel {
        Channel::parse(s).expect("valid channel")
    }

    #[test]
    fn slashes_at_either_end_are_optional_and_normalised() {
        for raw in [
            "default/foo",
            "/default/foo",
            "default/foo/",
            "/default/foo/",
        ] {
            assert_eq!(ch(raw).key(), "default/foo", "{raw}");
        }
        assert_eq!(ch("default").namespace(), "default");
        assert_eq!(ch("a/b/c").path(), "/a/b/c");
        assert_eq!(ch("a/b/c").to_string(), "/a/b/c");
        assert_eq!(ch("a/b/c").segments().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn segments_are_limited_in_number_length_and_characters() {
        assert!(Channel::parse("a/b/c/d/e").is_ok());
        let err = Channel::parse("default/1/2/3/4/5").expect_err("six segments");
        assert!(err.reason.contains("at most 5 segments"), "{err}");
        let fifty = "x".repeat(50);
        assert!(Channel::parse(&format!("ns/{fifty}")).is_ok());
        let err = Channel::parse(&format!("ns/{fifty}y")).expect_err("51 chars");
        assert!(err.reason.contains("longer than 50"), "{err}");
        for bad in [
            "", "/", "//", "ns//a", "ns/a b", "ns/a_b", "ns/-a", "ns/a-", "ns/é", "ns/a.b",
            "ns/a*", "ns/**", "*", "/*", "ns/*/a",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(Channel::parse("Ns-1/A-b-2").is_ok());
    }

    #[test]
    fn a_trailing_star_subscribes_below_and_is_never_publishable() {
        let below = Pattern::parse("/default/*").expect("valid wildcard");
        assert_eq!(below, Pattern::Below(ch("default")));
        assert_eq!(below.to_string(), "/default/*");
        assert!(below.matches(&ch("default/a")));
        assert!(below.matches(&ch("default/a/b/c/d")));
        assert!(!below.matches(&ch("default")));
        assert!(!below.matches(&ch("defaultx/a")));
        assert!(!below.matches(&ch("other/a")));
        let deeper = Pattern::parse("default/a/*").expect("valid");
        assert!(deeper.matches(&ch("default/a/b")));
        assert!(!deeper.matches(&ch("default/ab/c")));
        assert!(Pattern::parse("a/b/c/d/*").is_ok());
        assert!(Pattern::parse("a/b/c/d/e/*").is_err());
        let err = Channel::parse("default/*").expect_err("publish to wildcard");
        assert!(err.reason.contains("cannot be published"), "{err}");
    }

    #[test]
    fn exact_patterns_match_only_their_channel_and_case_matters() {
        let exact = Pattern::parse("default/foo").expect("valid");
        assert!(exact.matches(&ch("/default/foo/")));
        assert!(!exact.matches(&ch("default/Foo")));
        assert!(!exact.matches(&ch("default/foo/bar")));
        assert_eq!(exact.namespace(), "default");
    }

    #[test]
    fn wildcard_prefixes_are_the_proper_prefixes() {
        assert_eq!(
            ch("ns/a/b").wildcard_prefixes().collect::<Vec<_>>(),
            ["ns", "ns/a"]
        );
        assert_eq!(ch("ns").wildcard_prefixes().count(), 0);
    }

    #[test]
    fn long_garbage_is_not_echoed_in_full() {
        let raw = "ns/".to_string() + &"é".repeat(1000);
        let err = Channel::parse(&raw).expect_err("invalid");
        assert!(err.channel.len() < 400);
    }
}
