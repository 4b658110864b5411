//! Command-line types (clap derive) and nothing else.
//!
//! Every flag of every command is declared here, so `evctl <cmd> --help` is the reference.
//! Validation that needs more than clap can express happens in the command modules, which
//! turn these raw arguments into settings in one step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  evctl init --template minimal api.yaml      write a starter spec
  evctl validate api.yaml                     check a spec without calling AWS
  evctl dev api.yaml --once                   emulator + apply + smoke test, locally
  evctl plan api.yaml --var STAGE=pr-42       show what apply would change
  evctl apply api.yaml --auto-approve         make it so (CI)
  evctl smoke api.yaml                        prove the deployed API delivers events
  evctl destroy api.yaml --auto-approve       tear an ephemeral environment down

Exit codes: 0 success, 1 error, 2 changes present (with --detailed-exitcode), 130 interrupted.";

/// Provision, test and emulate AWS AppSync Event APIs from a declarative YAML spec.
#[derive(Debug, Parser)]
#[command(name = "evctl", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags that every command understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Output format for results on stdout (a command refuses one it cannot print).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Disable colours (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// More detail on stderr (repeat for more: -vv shows HTTP-level tracing).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// Output format of results on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text and tables.
    Text,
    /// Machine-readable JSON (stable, with a format_version where it is a document).
    Json,
    /// Markdown, for pull-request comments and step summaries (plan, smoke, gc, keys).
    Markdown,
    /// JUnit XML, for CI test reports (smoke).
    Junit,
}

/// AWS access: defined once, flattened into every command that talks to the control plane.
///
/// The standard environment variables (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL,
/// AWS_ENDPOINT_URL_APPSYNC, credentials) are read by the AWS SDK's default chain; these flags
/// override them.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS profile from ~/.aws/config (default: AWS_PROFILE, then "default").
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region (default: AWS_REGION, then the profile's region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// AppSync control-plane endpoint, e.g. http://127.0.0.1:4510 for the local emulator
    /// (default: AWS_ENDPOINT_URL_APPSYNC, then AWS_ENDPOINT_URL, then AWS).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// The spec file and the variables that fill it.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Path to the spec file (e.g. api.yaml).
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,

    /// Set a spec variable: fills ${NAME} (repeatable; wins over the environment).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check spec files without calling AWS (e.g. `evctl validate api.yaml`).
    Validate(ValidateArgs),
    /// Write a starter spec from a template (e.g. `evctl init --template chat api.yaml`).
    Init(InitArgs),
    /// Print the JSON Schema of the spec format (e.g. `evctl schema > evctl.schema.json`).
    Schema(SchemaArgs),
    /// Show what apply would change (e.g. `evctl plan api.yaml --detailed-exitcode`).
    Plan(PlanArgs),
    /// Create or update the API to match the spec (e.g. `evctl apply api.yaml --auto-approve`).
    #[command(
        after_help = "SPEC may also be a plan saved with `evctl plan SPEC --out FILE`: \
        `evctl apply FILE` applies exactly that plan, without asking again, and refuses if the \
        live API changed since it was made."
    )]
    Apply(ApplyArgs),
    /// Delete the API that the spec describes (e.g. `evctl destroy api.yaml --auto-approve`).
    Destroy(DestroyArgs),
    /// Print what clients need: ids, endpoints, key values (e.g. `evctl outputs api.yaml --format env`).
    Outputs(OutputsArgs),
    /// Prove the deployed API delivers events with each auth mode (e.g. `evctl smoke api.yaml`).
    Smoke(SmokeArgs),
    /// Run the local emulator of AppSync Event APIs (e.g. `evctl emulator --listen 127.0.0.1:4510`).
    Emulator(EmulatorArgs),
    /// Emulator, apply, smoke test and watch, in one command (e.g. `evctl dev api.yaml --once`).
    Dev(DevArgs),
    /// List the Event APIs in the account and region (e.g. `evctl list --selector stage=pr-42`).
    List(ListArgs),
    /// Delete leaked evctl-owned APIs by tag and age (e.g. `evctl gc --selector ci=true --older-than 24h`).
    Gc(GcArgs),
    /// List the spec's API keys and their expiry (e.g. `evctl keys api.yaml --expiring-within 14d`).
    Keys(KeysArgs),
    /// Run a benchmark against the embedded emulator (e.g. `evctl bench fanout`).
    #[command(hide = true)]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Spec files to check.
    #[arg(value_name = "SPEC", required = true)]
    pub specs: Vec<PathBuf>,

    /// Set a spec variable: fills ${NAME} (repeatable; wins over the environment).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Emit GitHub Actions `::error` annotations (default when GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the spec.
    #[arg(value_name = "PATH", default_value = "api.yaml")]
    pub path: PathBuf,

    /// Starter template to use (see --list).
    #[arg(long, short = 't', default_value = "minimal")]
    pub template: String,

    /// List the templates and exit.
    #[arg(long)]
    pub list: bool,

    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// What plan, apply and destroy share.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Take over an existing API of the spec's name that evctl did not create (tags it as owned).
    #[arg(long)]
    pub adopt: bool,

    /// Keep namespaces and keys that exist on the API but not in the spec.
    #[arg(long)]
    pub no_prune: bool,

    /// Emit GitHub Actions annotations and step summaries (default when GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Save the plan to FILE; `evctl apply FILE` then applies exactly this plan.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 when there are no changes, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Plan the destruction of the API instead (what `evctl destroy` would do).
    #[arg(long)]
    pub destroy: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Apply without asking for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,

    /// How many namespace and key operations run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Destroy without asking for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,

    /// Emit GitHub Actions annotations and step summaries (default when GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,

    /// How to print the outputs: text, json, env (for `source`/dotenv), or github
    /// (appends to $GITHUB_OUTPUT and masks key values).
    #[arg(long, value_enum, default_value_t = OutputsFormat::Text)]
    pub format: OutputsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputsFormat {
    Text,
    Json,
    Env,
    Github,
}

#[derive(Debug, Args)]
pub struct SmokeArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,

    /// How long to keep retrying the first connection while a new API's DNS propagates.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub wait: Duration,

    /// How long each check may take (overrides the spec's smoke.timeout).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// JWT for AMAZON_COGNITO_USER_POOLS checks.
    #[arg(
        long,
        env = "EVCTL_COGNITO_TOKEN",
        value_name = "JWT",
        hide_env_values = true
    )]
    pub cognito_token: Option<String>,

    /// JWT for OPENID_CONNECT checks.
    #[arg(
        long,
        env = "EVCTL_OIDC_TOKEN",
        value_name = "JWT",
        hide_env_values = true
    )]
    pub oidc_token: Option<String>,

    /// Authorization token for AWS_LAMBDA checks.
    #[arg(
        long,
        env = "EVCTL_LAMBDA_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub lambda_token: Option<String>,

    /// Extra CA certificate (PEM) to trust, e.g. the emulator's --tls certificate.
    #[arg(long, env = "EVCTL_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Emit GitHub Actions step summaries (default when GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Address of the control plane (and the base address of the data plane).
    #[arg(long, default_value = "127.0.0.1:4510", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Keep state in FILE so that it survives a restart (default: in memory).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Region used in ARNs and DNS names.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// Account id used in ARNs.
    #[arg(long, default_value = "123456789012", value_name = "ID")]
    pub account_id: String,

    /// Bind each API's data-plane listener on the first free port of this range (default: an
    /// ephemeral port per API), e.g. 4600-4699.
    #[arg(long, value_name = "START-END", value_parser = parse_port_range)]
    pub data_plane_ports: Option<std::ops::RangeInclusive<u16>>,

    /// Verify SigV4 signatures on control-plane requests against the configured credentials.
    #[arg(long)]
    pub verify_sigv4: bool,

    /// Credentials the emulator accepts for SigV4 (control plane with --verify-sigv4, and AWS_IAM
    /// on the data plane), as ACCESS_KEY_ID:SECRET_ACCESS_KEY.
    #[arg(long, value_name = "ID:SECRET", default_value = "test:test")]
    pub credentials: String,

    /// Delay added to every control-plane call (e.g. 50ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency: Option<Duration>,

    /// Fraction of control-plane calls (0.0 to 1.0) that fail with one of --faults.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Kinds of injected faults: throttle, internal, conflict, lost-response.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub faults: Vec<FaultKind>,

    /// Seed for fault injection, so a failing run can be replayed.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Serve HTTPS and WSS with a self-signed certificate (written to a path it prints).
    #[arg(long)]
    pub tls: bool,

    /// TLS certificate (PEM) to serve instead of a generated one (implies --tls).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// TLS private key (PEM) for --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Interval between keep-alive (`ka`) messages on real-time connections.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub ka_interval: Duration,

    /// JWKS file used to verify JWT signatures for Cognito and OIDC auth.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,

    /// Tokens the local stand-in for the Lambda authorizer accepts (repeatable).
    #[arg(long = "lambda-token", value_name = "TOKEN")]
    pub lambda_tokens: Vec<String>,

    /// Command run as the Lambda authorizer stand-in: gets the authorizer request as JSON on
    /// stdin, answers the response as JSON on stdout.
    #[arg(long, value_name = "COMMAND")]
    pub lambda_authorizer: Option<String>,

    /// Fraction of published events (0.0 to 1.0) that are acknowledged but never delivered, to
    /// prove that a smoke test notices; deterministic (of every N events, N x RATE are dropped).
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub drop_events: f64,

    /// Messages a real-time connection may have waiting before it counts as too slow and is
    /// closed (WebSocket close 1008).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub queue_capacity: usize,

    /// Serialise every delivery separately for each subscriber (the baseline of
    /// `evctl bench fanout`).
    #[arg(long, hide = true)]
    pub naive_fanout: bool,

    /// How long a channel namespace's onPublish/onSubscribe handler may run before it is
    /// stopped and the request fails (at most 30s, AppSync's limit).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub handler_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// 429 LimitExceededException.
    Throttle,
    /// 500 InternalFailureException.
    Internal,
    /// 409 ConcurrentModificationException.
    Conflict,
    /// The operation is committed, then the connection is dropped before the answer.
    LostResponse,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// Address of the embedded emulator [default: 127.0.0.1:4510, or a free port with a warning
    /// when that one is taken; an address given here is used or fails].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Exit after the first smoke test, with its verdict as the exit code.
    #[arg(long)]
    pub once: bool,

    /// Serve the emulator over HTTPS/WSS with a generated certificate.
    #[arg(long)]
    pub tls: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Only APIs whose tags match: KEY=VALUE, KEY!=VALUE or KEY (present); repeatable, all must
    /// match.
    #[arg(long = "selector", short = 'l', value_name = "KEY=VALUE")]
    pub selectors: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Only evctl-owned APIs whose tags match: KEY=VALUE, KEY!=VALUE or KEY (present);
    /// repeatable, all must match, at least one required.
    #[arg(
        long = "selector",
        short = 'l',
        value_name = "KEY=VALUE",
        required = true
    )]
    pub selectors: Vec<String>,

    /// Only APIs created longer ago than this (e.g. 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<Duration>,

    /// Show what would be deleted and delete nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Delete without asking for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,

    /// Append the result table to the GitHub Actions step summary (default when
    /// GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Exit 2 if any key of the spec is expired, expires within this window (e.g. 14d), or is
    /// missing.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expiring_within: Option<Duration>,

    /// Emit GitHub Actions annotations and step summaries (default when GITHUB_ACTIONS=true).
    #[arg(long)]
    pub github: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Data-plane fan-out: latency and throughput with 1, 100 and 1000 subscribers.
    Fanout(BenchFanoutArgs),
    /// Apply of a 20-namespace, 5-key spec: evctl against a sequential script.
    Apply(BenchApplyArgs),
    /// What a namespace's onPublish handler adds to a publish, against no handler.
    Handlers(BenchHandlersArgs),
}

#[derive(Debug, Args)]
pub struct BenchHandlersArgs {
    /// Publishes measured per namespace.
    #[arg(long, default_value_t = 1000)]
    pub events: usize,

    /// Edits of the handler code, each followed by one timed publish (compile included).
    #[arg(long, default_value_t = 20)]
    pub edits: usize,

    /// Size of each published event in bytes (JSON text).
    #[arg(long, default_value_t = 1024)]
    pub event_bytes: usize,
}

#[derive(Debug, Args)]
pub struct BenchFanoutArgs {
    /// Subscriber counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub subscribers: Vec<usize>,

    /// Events published per measurement.
    #[arg(long, default_value_t = 2000)]
    pub events: usize,

    /// Idle connections opened to measure memory per connection.
    #[arg(long, default_value_t = 2000)]
    pub idle_connections: usize,

    /// Size of each published event in bytes (JSON text).
    #[arg(long, default_value_t = 1024)]
    pub event_bytes: usize,
}

#[derive(Debug, Args)]
pub struct BenchApplyArgs {
    /// Latency the emulator adds to every control-plane call.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub latency: Duration,

    /// Number of namespaces in the generated spec.
    #[arg(long, default_value_t = 20)]
    pub namespaces: usize,

    /// Number of API keys in the generated spec.
    #[arg(long, default_value_t = 5)]
    pub keys: usize,

    /// How many times to measure (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// Parses a port range `START-END` (inclusive, START <= END, both non-zero).
pub fn parse_port_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let parse = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{p:?} is not a port number (1-65535)"))
    };
    let (start, end) = s
        .split_once('-')
        .ok_or_else(|| "expected START-END, e.g. 4600-4699".to_string())?;
    let (start, end) = (parse(start)?, parse(end)?);
    if start > end {
        return Err(format!(
            "the range {start}-{end} is empty (START must not exceed END)"
        ));
    }
    Ok(start..=end)
}

/// Parses a human duration such as `300ms`, `90s`, `5m`, `24h`, `30d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (examples: 300ms, 90s, 5m, 24h, 30d)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn port_ranges_parse() {
        assert_eq!(parse_port_range("4600-4699"), Ok(4600..=4699));
        assert_eq!(parse_port_range("5000-5000"), Ok(5000..=5000));
        assert!(parse_port_range("4699-4600").is_err());
        assert!(parse_port_range("0-10").is_err());
        assert!(parse_port_range("4600").is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert!(parse_duration("soon").is_err());
    }
}
