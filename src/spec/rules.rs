//! AppSync's input constraints (names, tags, ARNs, channel paths, durations) as plain
//! predicates. Each returns what is wrong and how to fix it; callers add the field path.

use std::time::Duration;

use super::types::RawScalar;

/// What is wrong with a value, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

pub(crate) type Check = Result<(), Problem>;

pub(crate) fn problem(message: impl Into<String>, hint: impl Into<String>) -> Problem {
    Problem {
        message: message.into(),
        hint: Some(hint.into()),
    }
}

fn length(what: &str, s: &str, min: usize, max: usize) -> Check {
    let n = s.chars().count();
    if n < min {
        return Err(problem(
            format!("{what} is empty"),
            format!("give it 1 to {max} characters"),
        ));
    }
    if n > max {
        return Err(problem(
            format!("{what} is {n} characters long; AppSync allows at most {max}"),
            "shorten it",
        ));
    }
    Ok(())
}

fn only(what: &str, s: &str, allowed: impl Fn(char) -> bool, described: &str) -> Check {
    match s.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(problem(
            format!("{what} `{s}` contains {}", show_char(c)),
            format!("use only {described}"),
        )),
    }
}

fn show_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character {:?}", c)
    } else {
        format!("`{c}`")
    }
}

/// `ApiName`: 1-50 of `[A-Za-z0-9_\- ]`.
pub(crate) fn api_name(s: &str) -> Check {
    length("the API name", s, 1, 50)?;
    only(
        "the API name",
        s,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '),
        "letters, digits, `_`, `-` and spaces",
    )
}

/// `OwnerContact` (as AppSync returns it): 1-250 of `[A-Za-z0-9_\-\ \.]`.
pub(crate) fn owner_contact(s: &str) -> Check {
    if s.is_empty() {
        return Err(problem(
            "ownerContact is empty",
            "remove the field, or give it a value",
        ));
    }
    length("ownerContact", s, 1, 250)?;
    only(
        "ownerContact",
        s,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.'),
        "letters, digits, `_`, `-`, `.` and spaces (AppSync's OwnerContact pattern)",
    )
}

/// `Namespace`: 1-50 letters, digits and inner hyphens.
pub(crate) fn namespace_name(s: &str) -> Check {
    length("the namespace name", s, 1, 50)?;
    only(
        "the namespace name",
        s,
        |c| c.is_ascii_alphanumeric() || c == '-',
        "letters, digits and `-`",
    )?;
    if s.starts_with('-') || s.ends_with('-') {
        return Err(problem(
            format!("the namespace name `{s}` starts or ends with `-`"),
            "hyphens are allowed only between letters or digits",
        ));
    }
    Ok(())
}

/// evctl's key names: stored in the key description before the first space.
pub(crate) fn key_name(s: &str) -> Check {
    length("the key name", s, 1, 64)?;
    only(
        "the key name",
        s,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'),
        "letters, digits, `_`, `-` and `.` (evctl stores the name in the key's description)",
    )?;
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(problem(
            format!("the key name `{s}` does not start with a letter or digit"),
            "start it with a letter or digit",
        ));
    }
    Ok(())
}

/// `TagKey`: 1-128, `^(?!aws:)[ a-zA-Z+-=._:/]+$` (note `+-=` is a range that includes the
/// digits and `+,-./:;<=`); evctl reserves the `evctl:` prefix for its own tags.
pub(crate) fn tag_key(s: &str) -> Check {
    length("the tag key", s, 1, 128)?;
    if s.starts_with("aws:") {
        return Err(problem(
            format!("the tag key `{s}` starts with `aws:`, which AWS reserves"),
            "choose another prefix",
        ));
    }
    if s.starts_with("evctl:") {
        return Err(problem(
            format!(
                "the tag key `{s}` starts with `evctl:`, which evctl reserves for its own tags"
            ),
            "choose another prefix",
        ));
    }
    only(
        "the tag key",
        s,
        |c| {
            c.is_ascii_alphabetic()
                || ('+'..='=').contains(&c)
                || matches!(c, ' ' | '.' | '_' | ':' | '/')
        },
        "letters, digits, spaces and `+ , - . / : ; < = _`",
    )
}

/// `TagValue`: 0-256, `^[\s\w+-=\.:/@]*$`.
pub(crate) fn tag_value(s: &str) -> Check {
    let n = s.chars().count();
    if n > 256 {
        return Err(problem(
            format!("the tag value is {n} characters long; AppSync allows at most 256"),
            "shorten it",
        ));
    }
    only(
        "the tag value",
        s,
        |c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '_' | '.' | ':' | '/' | '@'
                )
                || ('+'..='=').contains(&c)
        },
        "letters, digits, whitespace and `_ . : / @ + , - ; < =`",
    )
}

/// A data source name: `[_A-Za-z][_0-9A-Za-z]*`.
pub(crate) fn data_source_name(s: &str) -> Check {
    length("the data source name", s, 1, 65536)?;
    only(
        "the data source name",
        s,
        |c| c.is_ascii_alphanumeric() || c == '_',
        "letters, digits and `_`",
    )?;
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(problem(
            format!("the data source name `{s}` starts with a digit"),
            "start it with a letter or `_`",
        ));
    }
    Ok(())
}

/// A Cognito user pool id: `<region>_<id>`, e.g. `us-east-1_AbCdEf123`.
pub(crate) fn user_pool_id(s: &str) -> Check {
    let ok = match s.rsplit_once('_') {
        Some((region, id)) => {
            !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    };
    if ok && s.chars().count() <= 55 {
        Ok(())
    } else {
        Err(problem(
            format!("`{s}` is not a Cognito user pool id"),
            "a user pool id looks like us-east-1_AbCdEf123",
        ))
    }
}

/// An AWS region name such as `us-east-1` or `us-gov-west-1`.
pub(crate) fn aws_region(s: &str) -> Check {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(problem(
            format!("`{s}` is not an AWS region"),
            "a region looks like us-east-1",
        ))
    }
}

/// An OIDC issuer: an http(s) URL with a host.
pub(crate) fn issuer(s: &str) -> Check {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !s.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(problem(
            format!("the issuer `{s}` is not an http(s) URL"),
            "use the issuer URL exactly as in the tokens' `iss` claim, e.g. https://auth.example.com",
        )),
    }
}

fn arn_parts(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn" && parts[1].starts_with("aws")).then_some(parts)
}

fn account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// A Lambda function ARN, optionally qualified by a version or alias.
pub(crate) fn lambda_arn(s: &str) -> Check {
    let ok = arn_parts(s).is_some_and(|[_, _, service, region, account, resource]| {
        let name = resource.strip_prefix("function:").unwrap_or_default();
        let mut segs = name.split(':');
        let fname = segs.next().unwrap_or_default();
        let qualifier = segs.next();
        service == "lambda"
            && aws_region(region).is_ok()
            && account_id(account)
            && !fname.is_empty()
            && fname.len() <= 64
            && fname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && qualifier.is_none_or(|q| {
                !q.is_empty()
                    && q.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
            })
            && segs.next().is_none()
    });
    if ok {
        Ok(())
    } else {
        Err(problem(
            format!("`{s}` is not a Lambda function ARN"),
            "use arn:aws:lambda:REGION:ACCOUNT:function:NAME (optionally :ALIAS or :VERSION)",
        ))
    }
}

/// An IAM role ARN.
pub(crate) fn role_arn(s: &str) -> Check {
    let ok = arn_parts(s).is_some_and(|[_, _, service, region, account, resource]| {
        service == "iam"
            && region.is_empty()
            && account_id(account)
            && resource.strip_prefix("role/").is_some_and(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
            })
    });
    if ok {
        Ok(())
    } else {
        Err(problem(
            format!("`{s}` is not an IAM role ARN"),
            "use arn:aws:iam::ACCOUNT:role/NAME",
        ))
    }
}

/// A concrete channel path: 1-5 segments of letters, digits and inner hyphens (no wildcard).
pub(crate) fn channel(s: &str) -> Check {
    let trimmed = s.strip_prefix('/').unwrap_or(s);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let segments: Vec<&str> = trimmed.split('/').collect();
    let hint = "a channel looks like /NAMESPACE/a/b: 1 to 5 segments of letters, digits and inner hyphens, at most 50 characters each";
    if trimmed.is_empty() || segments.len() > 5 {
        return Err(problem(format!("`{s}` is not a channel path"), hint));
    }
    for seg in &segments {
        if *seg == "*" {
            return Err(problem(
                format!("`{s}` contains a wildcard; the smoke test publishes to it"),
                "name a concrete channel, e.g. /default/smoke",
            ));
        }
        if namespace_name(seg).is_err() {
            return Err(problem(
                format!("`{s}` is not a channel path (segment `{seg}`)"),
                hint,
            ));
        }
    }
    Ok(())
}

/// The unit a bare number means for a duration field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Seconds,
    Millis,
}

impl Unit {
    fn of(self, n: u64) -> Duration {
        match self {
            Unit::Seconds => Duration::from_secs(n),
            Unit::Millis => Duration::from_millis(n),
        }
    }
}

/// Parses a human duration (`300ms`, `90s`, `5m`, `1h`, `30d`) or a bare number in `unit`.
pub(crate) fn duration(raw: &RawScalar, unit: Unit) -> Result<Duration, Problem> {
    let hint = "write a duration such as 300ms, 90s, 5m, 1h or 30d";
    match raw {
        RawScalar::Int(n) => u64::try_from(*n)
            .map(|n| unit.of(n))
            .map_err(|_| problem(format!("{n} is negative"), hint)),
        RawScalar::Str(s) => {
            let t = s.trim();
            if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
                return t
                    .parse::<u64>()
                    .map(|n| unit.of(n))
                    .map_err(|_| problem(format!("`{t}` is too large"), hint));
            }
            humantime::parse_duration(t)
                .map_err(|e| problem(format!("`{s}` is not a duration ({e})"), hint))
        }
        RawScalar::Float(f) => Err(problem(format!("{f} is not a whole number"), hint)),
        RawScalar::Bool(b) => Err(problem(
            format!("expected a duration, found a boolean ({b})"),
            hint,
        )),
        RawScalar::Null => Err(problem("expected a duration, found nothing (null)", hint)),
        RawScalar::NotScalar(kind) => {
            Err(problem(format!("expected a duration, found {kind}"), hint))
        }
    }
}

/// A duration for humans, in the units a spec uses: `400d`, `1d 1h 5m`, `90s`, `250ms`.
pub(crate) fn show(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    let ms = d.subsec_millis();
    if ms > 0 || parts.is_empty() {
        parts.push(format!("{ms}ms"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_appsync_patterns() {
        assert!(api_name("chat dev_1-x").is_ok());
        assert!(api_name("").is_err());
        assert!(api_name("a.b").is_err());
        assert!(api_name(&"a".repeat(51)).is_err());
        assert!(namespace_name("default").is_ok());
        assert!(namespace_name("a-b").is_ok());
        assert!(namespace_name("-ab").is_err());
        assert!(namespace_name("a_b").is_err());
        assert!(namespace_name(&"a".repeat(50)).is_ok());
        assert!(namespace_name(&"a".repeat(51)).is_err());
        assert!(key_name("ci.key_1-a").is_ok());
        assert!(key_name("has space").is_err());
        assert!(key_name(".x").is_err());
    }

    #[test]
    fn tags_follow_the_model_regexes() {
        assert!(tag_key("team").is_ok());
        assert!(tag_key("cost-center/2024:a;b<c=d+e,f").is_ok());
        assert!(tag_key("aws:x").is_err());
        assert!(tag_key("evctl:x").is_err());
        assert!(tag_key("team@x").is_err());
        assert!(tag_key("").is_err());
        assert!(tag_value("").is_ok());
        assert!(tag_value("me@example.com a/b:c").is_ok());
        assert!(tag_value("a#b").is_err());
    }

    #[test]
    fn arns_and_ids() {
        assert!(lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:auth").is_ok());
        assert!(lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:auth:live").is_ok());
        assert!(lambda_arn("arn:aws:lambda:us-east-1:1234:function:auth").is_err());
        assert!(lambda_arn("auth").is_err());
        assert!(role_arn("arn:aws:iam::123456789012:role/service-role/logs").is_ok());
        assert!(role_arn("arn:aws:iam:us-east-1:123456789012:role/x").is_err());
        assert!(user_pool_id("us-east-1_AbCdEf123").is_ok());
        assert!(user_pool_id("pool").is_err());
        assert!(aws_region("us-gov-west-1").is_ok());
        assert!(aws_region("useast1").is_err());
        assert!(issuer("https://auth.example.com").is_ok());
        assert!(issuer("auth.example.com").is_err());
    }

    #[test]
    fn channels() {
        assert!(channel("/default/smoke").is_ok());
        assert!(channel("default").is_ok());
        assert!(channel("/a/b/c/d/e").is_ok());
        assert!(channel("/a/b/c/d/e/f").is_err());
        assert!(channel("/default/*").is_err());
        assert!(channel("/").is_err());
    }

    #[test]
    fn durations_are_human_or_bare_in_the_field_unit() {
        let s = |v: &str| RawScalar::Str(v.into());
        assert_eq!(
            duration(&s("30d"), Unit::Seconds),
            Ok(Duration::from_secs(30 * 86400))
        );
        assert_eq!(
            duration(&s("300"), Unit::Seconds),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            duration(&RawScalar::Int(1500), Unit::Millis),
            Ok(Duration::from_millis(1500))
        );
        assert!(duration(&s("soon"), Unit::Seconds).is_err());
        assert!(duration(&RawScalar::Int(-1), Unit::Seconds).is_err());
        assert!(duration(&RawScalar::Float(1.5), Unit::Seconds).is_err());
        assert_eq!(show(Duration::from_secs(400 * 86400)), "400d");
        assert_eq!(show(Duration::from_secs(86400 + 3600 + 300)), "1d 1h 5m");
        assert_eq!(show(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(show(Duration::ZERO), "0ms");
    }
}
