//! `evctl smoke`: find the spec's API the way plan does, gather credentials for each auth mode,
//! run the smoke test ([`crate::smoke`]) and print its report.

use std::collections::BTreeSet;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::cli::{AwsArgs, OutputFormat, SmokeArgs};
use crate::control::sdk::SdkControlPlane;
use crate::control::{ControlPlane, RetryPolicy};
use crate::engine::{Unowned, find_api, observe};
use crate::exit::ExitStatus;
use crate::model::{AuthModes, AuthType, ObservedState};
use crate::output::Printer;
use crate::smoke::auth::token_credential;
use crate::smoke::check::{Settings, new_run_id};
use crate::smoke::{self, Credential, Credentials, Report, Target, tls};
use crate::spec::{self, LoadedSpec, Vars};

pub async fn run(args: SmokeArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let vars = Vars::from_args_and_env(&args.spec.vars)?;
    let loaded = spec::load(&args.spec.spec, &vars)?;
    for warning in &loaded.warnings {
        printer.warn(warning.render().trim_end());
    }
    let tls_config = tls::client_config(args.ca_cert.as_deref())?;
    let retry = RetryPolicy::from_env(|name| std::env::var(name).ok())?;
    let cp = SdkControlPlane::connect(&args.aws, retry).await?;
    let (api, notes) = find_api(&cp, &loaded.desired.api.name, &retry)
        .await?
        .select(Unowned::Ignore)?;
    for note in notes {
        printer.status(&format!("note: {note}"));
    }
    let observed = observe(&cp, api, &BTreeSet::new(), 4, &retry).await?.state;
    // The data plane speaks TLS unless the control plane is a plain-HTTP endpoint (the emulator).
    let control = cp.target();
    let plain = control
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let target = smoke::target::target(&loaded.desired, &loaded.smoke.channels, &observed, !plain)?;
    let region = api_region(&observed).unwrap_or(control.region);
    let tokens = Tokens {
        cognito: args.cognito_token.as_deref(),
        oidc: args.oidc_token.as_deref(),
        lambda: args.lambda_token.as_deref(),
    };
    let credentials = gather_credentials(&loaded, &observed, &target, &tokens, || {
        iam_from_default_chain(&args.aws, &region)
    })
    .await;
    let settings = Settings {
        timeout: args.timeout.unwrap_or(loaded.smoke.timeout),
        wait: args.wait,
        tls: tls_config,
        run_id: new_run_id(),
    };
    let report = smoke::smoke_test(&target, &credentials, &settings, printer).await?;
    print_report(printer, &report, args.github)?;
    Ok(if report.passed() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Tokens for the modes that take a bearer token, as the user supplied them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokens<'a> {
    pub cognito: Option<&'a str>,
    pub oidc: Option<&'a str>,
    pub lambda: Option<&'a str>,
}

/// A credential (or the reason there is none) for every mode the target uses. AWS_IAM
/// credentials are resolved (with `iam`) only when a mode needs them, so that a run without
/// IAM never waits on the credential chain.
pub async fn gather_credentials<F, Fut>(
    loaded: &LoadedSpec,
    observed: &ObservedState,
    target: &Target,
    tokens: &Tokens<'_>,
    mut iam: F,
) -> Credentials
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Credential, String>>,
{
    let mut needed: AuthModes = target.connection_modes.clone();
    for modes in target.scopes.iter().filter_map(|s| s.modes.as_ref()) {
        needed.extend(modes.publish.iter().chain(&modes.subscribe));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut credentials = Credentials::default();
    for mode in needed {
        let credential = match mode {
            AuthType::ApiKey => smoke::target::api_key(&loaded.desired, observed, now),
            AuthType::AwsIam => iam().await,
            AuthType::AmazonCognitoUserPools => token_credential(mode, tokens.cognito),
            AuthType::OpenidConnect => token_credential(mode, tokens.oidc),
            AuthType::AwsLambda => token_credential(mode, tokens.lambda),
        };
        credentials.set(mode, credential);
    }
    credentials
}

/// The region in the API's ARN (`arn:aws:appsync:REGION:ACCOUNT:apis/ID`): SigV4 must name it.
fn api_region(observed: &ObservedState) -> Option<String> {
    let arn = &observed.api.as_ref()?.arn;
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// AWS credentials from the default chain (flags, environment, profile files, SSO, instance
/// metadata), for signing AWS_IAM requests in `region`.
async fn iam_from_default_chain(aws: &AwsArgs, region: &str) -> Result<Credential, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &aws.profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| "no AWS credentials are configured".to_string())?;
    let creds = provider.provide_credentials().await.map_err(|e| {
        format!(
            "no AWS credentials from the default chain: {}",
            DisplayErrorContext(e)
        )
    })?;
    Ok(Credential::Iam {
        credentials: crate::signing::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token().map(str::to_string),
        ),
        region: region.to_string(),
    })
}

/// The report on stdout in the chosen format; failures also on stderr when stdout is data; a
/// GitHub step summary when asked (or when running in GitHub Actions).
pub fn print_report(printer: &Printer, report: &Report, github: bool) -> anyhow::Result<()> {
    printer.result(&smoke::render(printer.format, report)?);
    if printer.format != OutputFormat::Text {
        for check in report
            .checks
            .iter()
            .filter(|c| c.result == smoke::report::Outcome::Fail)
        {
            printer.status(&format!(
                "FAIL {} {} {}: {}",
                check.namespace,
                check.path.label(),
                check.auth_mode.map_or("no auth", AuthType::as_str),
                check.reason.as_deref().unwrap_or_default()
            ));
        }
        printer.status(&report.verdict_line());
    }
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if (github || in_actions)
        && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY")
    {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("could not open GITHUB_STEP_SUMMARY: {e}"))?;
        file.write_all(smoke::report::render_markdown(report).as_bytes())?;
    }
    Ok(())
}
