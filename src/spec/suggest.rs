//! "Did you mean" suggestions for misspelt field names and enum values.

/// The candidate closest to `input`, if one is close enough to be a plausible typo. Case,
/// `_` and `-` differences count as a match (`api_key` -> `API_KEY`).
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(input);
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        let c = fold(candidate);
        if c == folded {
            return Some(candidate);
        }
        let score = strsim::jaro_winkler(&folded, &c);
        let close = strsim::damerau_levenshtein(&folded, &c) <= (c.len() / 4).max(1);
        if (score >= 0.88 || close) && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let fields = [
            "name",
            "publishAuthModes",
            "subscribeAuthModes",
            "codeHandlers",
        ];
        assert_eq!(
            did_you_mean("publishAuthMode", fields),
            Some("publishAuthModes")
        );
        assert_eq!(did_you_mean("codehandlers", fields), Some("codeHandlers"));
        assert_eq!(did_you_mean("nmae", fields), Some("name"));
        assert_eq!(did_you_mean("colour", fields), None);
        assert_eq!(
            did_you_mean("api_key", ["API_KEY", "AWS_IAM"]),
            Some("API_KEY")
        );
        assert_eq!(
            did_you_mean("openIdConnectConfig", ["openIDConnectConfig"]),
            Some("openIDConnectConfig")
        );
    }
}
