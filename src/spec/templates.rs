//! The starter specs under `templates/`, embedded in the binary so `evctl init` works from any
//! directory. Every file listed here is validated by the test suite.

/// A starter spec and the files it refers to.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// The `--template` name.
    pub name: &'static str,
    /// One line for `evctl init --list`.
    pub summary: &'static str,
    /// The spec text.
    pub spec: &'static str,
    /// Extra files (handler code), as (path relative to the spec, contents).
    pub files: &'static [(&'static str, &'static str)],
}

/// The file `evctl init` writes next to the spec for editors (see the spec's first line).
pub const SCHEMA_FILE: &str = "evctl.schema.json";

/// Every template, in `--list` order.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "minimal",
        summary: "API-key auth, one `default` namespace, one key (what `evctl dev` runs in the README)",
        spec: include_str!("../../templates/minimal.yaml"),
        files: &[],
    },
    Template {
        name: "chat",
        summary: "chat backend: API key + IAM, three namespaces with auth overrides, a code handler",
        spec: include_str!("../../templates/chat.yaml"),
        files: &[(
            "handlers/chat.js",
            include_str!("../../templates/handlers/chat.js"),
        )],
    },
    Template {
        name: "multi-auth",
        summary: "every auth provider (API key, IAM, Cognito, OIDC, Lambda), one namespace each, CloudWatch logs",
        spec: include_str!("../../templates/multi-auth.yaml"),
        files: &[],
    },
];

/// The template called `name`.
pub fn find(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}
