//! Spec variables: where their values come from (`--var` pairs, then an environment lookup) and
//! how `${NAME}`, `${NAME:-default}` and `$$` are expanded inside one string value.
//!
//! Expansion works on a string that YAML parsing already produced, so a value can never change
//! the document's structure: whatever a variable holds stays one plain string.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Mutex;

/// Where variable values come from: explicit pairs first, then an environment lookup.
///
/// Library callers and tests build one with [`Vars::new`] and [`Vars::with_env`] and never
/// touch the process environment; the CLI uses [`Vars::from_args_and_env`].
pub struct Vars {
    explicit: BTreeMap<String, String>,
    env: Box<Lookup>,
    /// The names `${...}` references asked for since [`Vars::forget_lookups`], so that a
    /// `--var` no reference uses (a typo, the wrong case) can be pointed out.
    looked_up: Mutex<BTreeSet<String>>,
}

/// Looks a variable up by name (the environment, or a stand-in for it).
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be sensitive (tokens passed as variables): show names only.
        f.debug_struct("Vars")
            .field("explicit", &self.explicit.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for Vars {
    fn default() -> Vars {
        Vars::none()
    }
}

/// A `--var` argument that is not `NAME=VALUE` with a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid --var `{arg}`: {reason} (expected NAME=VALUE, NAME made of letters, digits and _)"
)]
pub struct VarArgError {
    pub arg: String,
    pub reason: &'static str,
}

impl Vars {
    /// No variables at all: every `${NAME}` without a default is an error.
    pub fn none() -> Vars {
        Vars {
            explicit: BTreeMap::new(),
            env: Box::new(|_| None),
            looked_up: Mutex::default(),
        }
    }

    /// Explicit `NAME=VALUE` values (as given to `--var`), with no environment behind them.
    pub fn new<I, K, V>(pairs: I) -> Vars
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Vars {
            explicit: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            env: Box::new(|_| None),
            looked_up: Mutex::default(),
        }
    }

    /// Looks names that have no explicit value up with `lookup` (e.g. a map in tests).
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Vars {
        self.env = Box::new(lookup);
        self
    }

    /// What the CLI does: `--var NAME=VALUE` arguments, then the process environment.
    pub fn from_args_and_env(args: &[String]) -> Result<Vars, VarArgError> {
        Ok(Vars::new(parse_var_args(args)?).with_env(|name| std::env::var(name).ok()))
    }

    /// The value of `name`: an explicit value wins over the environment.
    pub fn get(&self, name: &str) -> Option<String> {
        self.lookups().insert(name.to_string());
        self.explicit
            .get(name)
            .cloned()
            .or_else(|| (self.env)(name))
    }

    /// Starts a new file: [`Vars::unused`] then speaks of the lookups from here on.
    pub fn forget_lookups(&self) {
        self.lookups().clear();
    }

    /// Explicit (`--var`) names that no reference looked up since [`Vars::forget_lookups`],
    /// each with the names that were looked up.
    pub fn unused(&self) -> Vec<(String, Vec<String>)> {
        let used = self.lookups().clone();
        self.explicit
            .keys()
            .filter(|name| !used.contains(*name))
            .map(|name| (name.clone(), used.iter().cloned().collect()))
            .collect()
    }

    fn lookups(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding the lock leaves a set of names that is still a set of names.
        self.looked_up
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Parses `NAME=VALUE` arguments; the value may be empty and may contain `=`.
pub fn parse_var_args(args: &[String]) -> Result<Vec<(String, String)>, VarArgError> {
    args.iter()
        .map(|arg| {
            let err = |reason| VarArgError {
                arg: arg.clone(),
                reason,
            };
            let (name, value) = arg.split_once('=').ok_or_else(|| err("no `=`"))?;
            if !is_var_name(name) {
                return Err(err("bad variable name"));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// `[A-Za-z_][A-Za-z0-9_]*`, as in shells.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `${NAME}` with no value and no default.
    Unset(String),
    /// `${` without its `}`, a bad name, or an operator other than `:-`.
    Syntax(String),
}

/// Expands `${NAME}`, `${NAME:-default}` and `$$` in `input`. Every problem is reported (the
/// result then holds what could be expanded). A `$` not followed by `{` or `$` is kept as is.
pub fn expand(input: &str, vars: &Vars) -> (String, Vec<ExpandError>) {
    if !input.contains('$') {
        return (input.to_string(), Vec::new());
    }
    let mut out = String::with_capacity(input.len());
    let mut errors = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                errors.push(ExpandError::Syntax(format!(
                    "`${{` at `{}` has no closing `}}` (write `$$` for a literal `$`)",
                    clip(&rest[pos..])
                )));
                out.push_str(&rest[pos..]);
                return (out, errors);
            };
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_var_name(name) {
                errors.push(ExpandError::Syntax(format!(
                    "`${{{inner}}}` is not a variable reference: use `${{NAME}}` or `${{NAME:-default}}` with NAME made of letters, digits and _ (write `$$` for a literal `$`)"
                )));
            } else if let Some(value) = vars.get(name) {
                out.push_str(&value);
            } else if let Some(default) = default {
                out.push_str(default);
            } else {
                errors.push(ExpandError::Unset(name.to_string()));
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    (out, errors)
}

fn clip(s: &str) -> String {
    let mut clipped: String = s.chars().take(30).collect();
    if clipped.len() < s.len() {
        clipped.push('…');
    }
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::new([("STAGE", "pr-42"), ("EMPTY", "")])
            .with_env(|name| (name == "FROM_ENV").then(|| "env-value".to_string()))
    }

    #[test]
    fn expands_names_defaults_and_escapes() {
        let v = vars();
        assert_eq!(expand("chat-${STAGE}", &v).0, "chat-pr-42");
        assert_eq!(expand("${MISSING:-dev}", &v).0, "dev");
        assert_eq!(expand("${MISSING:-}", &v).0, "");
        assert_eq!(
            expand("${EMPTY:-x}", &v).0,
            "",
            "set but empty wins over the default"
        );
        assert_eq!(expand("${FROM_ENV}", &v).0, "env-value");
        assert_eq!(
            expand("cost: $$5 and $${STAGE}", &v).0,
            "cost: $5 and ${STAGE}"
        );
        assert_eq!(expand("a $ b $x", &v).0, "a $ b $x");
        assert_eq!(expand("no dollars", &v), ("no dollars".to_string(), vec![]));
    }

    #[test]
    fn explicit_values_win_over_the_environment() {
        let v = Vars::new([("A", "explicit")]).with_env(|_| Some("env".into()));
        assert_eq!(v.get("A").as_deref(), Some("explicit"));
        assert_eq!(v.get("B").as_deref(), Some("env"));
    }

    #[test]
    fn reports_every_problem() {
        let (_, errors) = expand("${A}-${B}-${not valid}-${C", &Vars::none());
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(errors[0], ExpandError::Unset("A".into()));
        assert_eq!(errors[1], ExpandError::Unset("B".into()));
        assert!(matches!(errors[2], ExpandError::Syntax(_)));
        assert!(matches!(errors[3], ExpandError::Syntax(_)));
    }

    #[test]
    fn values_are_inserted_verbatim() {
        let v = Vars::new([("X", "${Y}\nkey: [1, 2]")]);
        assert_eq!(expand("${X}", &v).0, "${Y}\nkey: [1, 2]");
    }

    #[test]
    fn remembers_which_names_were_looked_up() {
        let v = Vars::new([("STAGE", "x"), ("stage", "y"), ("USED", "z")]);
        expand("${USED}-${MISSING:-a}", &v);
        let unused = v.unused();
        let names: Vec<&str> = unused.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["STAGE", "stage"]);
        assert_eq!(unused[0].1, ["MISSING", "USED"]);
        v.forget_lookups();
        assert_eq!(v.unused().len(), 3);
    }

    #[test]
    fn var_args_parse() {
        let args = vec!["A=1".to_string(), "B=x=y".to_string(), "C=".to_string()];
        assert_eq!(
            parse_var_args(&args),
            Ok(vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), "".into())
            ])
        );
        assert!(parse_var_args(&["nope".to_string()]).is_err());
        assert!(parse_var_args(&["1A=x".to_string()]).is_err());
    }
}
