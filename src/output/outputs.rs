//! `evctl outputs` renderers: what clients need to reach the API (ids, hosts, URLs) and the key
//! values, as text, JSON, dotenv lines or GitHub Actions outputs. The only place key values are
//! written, because the user asked for them.

use serde::Serialize;

use crate::output::github;

/// What `evctl outputs` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiOutputs {
    pub api_name: String,
    pub api_id: String,
    pub api_arn: String,
    /// `dns.HTTP`: bare host (and port).
    pub http_host: String,
    /// `dns.REALTIME`: bare host (and port).
    pub realtime_host: String,
    /// Where to POST events.
    pub http_url: String,
    /// Where to open the WebSocket.
    pub realtime_url: String,
    pub keys: Vec<KeyOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOutput {
    pub name: String,
    /// The key itself (the `x-api-key` value).
    pub value: String,
    /// RFC 3339.
    pub expires: String,
}

impl ApiOutputs {
    /// `(name, value)` pairs in a fixed order; key names joined with `key_name`.
    fn pairs(&self, key_name: impl Fn(&str) -> String) -> Vec<(String, String)> {
        let mut v = vec![
            ("api_id".to_string(), self.api_id.clone()),
            ("api_arn".to_string(), self.api_arn.clone()),
            ("http_host".to_string(), self.http_host.clone()),
            ("realtime_host".to_string(), self.realtime_host.clone()),
            ("http_url".to_string(), self.http_url.clone()),
            ("realtime_url".to_string(), self.realtime_url.clone()),
        ];
        for k in &self.keys {
            let base = key_name(&k.name);
            v.push((base.clone(), k.value.clone()));
            v.push((format!("{base}_expires"), k.expires.clone()));
        }
        v
    }

    /// Aligned `name = value` lines.
    pub fn text(&self) -> String {
        let pairs = self.pairs(|n| format!("api_key.{n}"));
        let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        pairs
            .iter()
            .map(|(k, v)| format!("{k:<width$} = {v}\n"))
            .collect()
    }

    /// `EVCTL_NAME=value` lines for `source` and dotenv files.
    pub fn env(&self) -> String {
        self.pairs(|n| format!("api_key_{n}"))
            .iter()
            .map(|(k, v)| format!("EVCTL_{}={}\n", env_name(k), shell_quote(v)))
            .collect()
    }

    /// `(name, value)` pairs for `$GITHUB_OUTPUT` (written by `output::github`).
    pub fn github_outputs(&self) -> Vec<(String, String)> {
        self.pairs(|n| format!("api_key_{}", env_name(n).to_lowercase()))
    }

    /// `::add-mask::` workflow commands, one per key value, so the runner hides them in logs.
    pub fn github_masks(&self) -> Vec<String> {
        self.keys.iter().map(|k| github::mask(&k.value)).collect()
    }

    /// The environment-variable names the keys get; two key names may not share one.
    pub fn env_names(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("EVCTL_API_KEY_{}", env_name(&k.name)))
            .collect()
    }
}

/// `my-key.x` -> `MY_KEY_X`.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Single-quotes a value unless it is made only of characters that need none.
fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> ApiOutputs {
        ApiOutputs {
            api_name: "chat".into(),
            api_id: "abc".into(),
            api_arn: "arn:aws:appsync:us-east-1:123456789012:apis/abc".into(),
            http_host: "127.0.0.1:4600".into(),
            realtime_host: "127.0.0.1:4600".into(),
            http_url: "http://127.0.0.1:4600/event".into(),
            realtime_url: "ws://127.0.0.1:4600/event/realtime".into(),
            keys: vec![KeyOutput {
                name: "ci-bot".into(),
                value: "da2-secret".into(),
                expires: "2026-01-01T00:00:00Z".into(),
            }],
        }
    }

    #[test]
    fn env_lines_can_be_sourced() {
        let env = outputs().env();
        assert!(env.contains("EVCTL_API_ID=abc\n"));
        assert!(env.contains("EVCTL_API_KEY_CI_BOT=da2-secret\n"));
        assert!(env.contains("EVCTL_API_KEY_CI_BOT_EXPIRES=2026-01-01T00:00:00Z\n"));
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }

    #[test]
    fn github_outputs_and_masks() {
        let o = outputs();
        assert!(
            o.github_outputs()
                .contains(&("api_key_ci_bot".to_string(), "da2-secret".to_string()))
        );
        assert_eq!(o.github_masks(), vec!["::add-mask::da2-secret".to_string()]);
    }
}
