//! `evctl smoke`: find the spec's API the way plan does, gather credentials for each auth mode,
//! run the smoke test ([`crate::smoke`]) and print its report. [`smoke_spec`] is the part that
//! `evctl dev` runs after every apply.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::plan::{connect, load_spec, now};
use crate::cli::{AwsArgs, OutputFormat, SmokeArgs};
use crate::control::ControlPlane;
use crate::engine::{ReadOptions, Unowned, find_and_observe};
use crate::exit::ExitStatus;
use crate::model::{AuthModes, AuthType, ObservedState};
use crate::output::Printer;
use crate::smoke::auth::token_credential;
use crate::smoke::check::{Settings, new_run_id};
use crate::smoke::report::Outcome;
use crate::smoke::{self, Credential, Credentials, Report, Target, tls};
use crate::spec::LoadedSpec;

pub async fn run(args: SmokeArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let loaded = load_spec(&args.spec, args.github, printer)?;
    let tls_config = tls::client_config(args.ca_cert.as_deref())?;
    let (cp, retry) = connect(&args.aws).await?;
    // The data plane speaks TLS unless the control plane is a plain-HTTP endpoint (the emulator).
    let plain = cp
        .target()
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let options = SmokeOptions {
        tls: tls_config,
        plain,
        timeout: args.timeout,
        wait: args.wait,
        tokens: Tokens {
            cognito: args.cognito_token.clone(),
            oidc: args.oidc_token.clone(),
            lambda: args.lambda_token.clone(),
        },
    };
    let read = ReadOptions {
        concurrency: super::plan::READ_CONCURRENCY,
        retry,
    };
    let aws = &args.aws;
    let report = smoke_spec(&cp, read, &loaded, &options, printer, |region| {
        iam_from_default_chain(aws, region)
    })
    .await?;
    print_report(printer, &report, args.github)?;
    Ok(verdict(&report))
}

/// The exit status a smoke report stands for.
pub(crate) fn verdict(report: &Report) -> ExitStatus {
    if report.passed() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    }
}

/// How to reach the data plane and with what.
#[derive(Debug, Clone)]
pub(crate) struct SmokeOptions {
    pub tls: Arc<rustls::ClientConfig>,
    /// `http`/`ws` instead of `https`/`wss`.
    pub plain: bool,
    /// Overrides the spec's `smoke.timeout`.
    pub timeout: Option<Duration>,
    pub wait: Duration,
    pub tokens: Tokens,
}

/// Tokens for the modes that take a bearer token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tokens {
    pub cognito: Option<String>,
    pub oidc: Option<String>,
    pub lambda: Option<String>,
}

/// Finds the spec's API (as plan does), gathers credentials and runs the smoke test. `iam`
/// gives AWS_IAM credentials for a region; it is called only when a checked mode needs them.
pub(crate) async fn smoke_spec<C, F, Fut>(
    cp: &C,
    read: ReadOptions,
    loaded: &LoadedSpec,
    options: &SmokeOptions,
    printer: &Printer,
    iam: F,
) -> anyhow::Result<Report>
where
    C: ControlPlane,
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<Credential, String>>,
{
    let observation = find_and_observe(
        cp,
        &loaded.desired.api.name,
        Unowned::Ignore,
        &BTreeSet::new(),
        read,
    )
    .await?;
    for note in &observation.notes {
        printer.status(&format!("note: {note}"));
    }
    let observed = observation.state;
    let target = smoke::target::target(
        &loaded.desired,
        &loaded.smoke.channels,
        &observed,
        !options.plain,
    )?;
    let region = api_region(&observed).unwrap_or_else(|| cp.target().region);
    let credentials =
        gather_credentials(loaded, &observed, &target, &options.tokens, || iam(region)).await;
    let settings = Settings {
        timeout: options.timeout.unwrap_or(loaded.smoke.timeout),
        wait: options.wait,
        tls: options.tls.clone(),
        run_id: new_run_id(),
    };
    smoke::smoke_test(&target, &credentials, &settings, printer).await
}

/// A credential (or the reason there is none) for every mode the target uses.
async fn gather_credentials<F, Fut>(
    loaded: &LoadedSpec,
    observed: &ObservedState,
    target: &Target,
    tokens: &Tokens,
    iam: F,
) -> Credentials
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Credential, String>>,
{
    let mut needed: AuthModes = target.connection_modes.clone();
    for modes in target.scopes.iter().filter_map(|s| s.modes.as_ref()) {
        needed.extend(modes.publish.iter().chain(&modes.subscribe));
    }
    let mut credentials = Credentials::default();
    for &mode in &needed {
        let credential = match mode {
            AuthType::ApiKey => smoke::target::api_key(&loaded.desired, observed, now()),
            AuthType::AmazonCognitoUserPools => token_credential(mode, tokens.cognito.as_deref()),
            AuthType::OpenidConnect => token_credential(mode, tokens.oidc.as_deref()),
            AuthType::AwsLambda => token_credential(mode, tokens.lambda.as_deref()),
            // Resolved below, once, and only if needed: the chain may be slow.
            AuthType::AwsIam => continue,
        };
        credentials.set(mode, credential);
    }
    if needed.contains(&AuthType::AwsIam) {
        credentials.set(AuthType::AwsIam, iam().await);
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
async fn iam_from_default_chain(aws: &AwsArgs, region: String) -> Result<Credential, String> {
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
        region,
    })
}

/// The report on stdout in the chosen format; failures also on stderr when stdout is data; a
/// GitHub step summary when asked (or when running in GitHub Actions).
pub(crate) fn print_report(printer: &Printer, report: &Report, github: bool) -> anyhow::Result<()> {
    printer.result(&smoke::render(printer.format, report)?);
    if printer.format != OutputFormat::Text {
        for check in report.checks.iter().filter(|c| c.result == Outcome::Fail) {
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
    super::plan::step_summary(github, printer, &smoke::report::render_markdown(report))
}
