//! One module per command, each with one entry function; [`main`] picks the command, runs it on
//! a tokio runtime and turns the outcome into an [`ExitStatus`].

use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cli::{Cli, Command, OutputFormat};
use crate::exit::ExitStatus;
use crate::output::{Printer, Verbosity};

pub mod apply;
pub mod bench;
pub mod destroy;
pub mod dev;
pub mod emulator;
pub mod gc;
pub mod init;
pub mod keys;
pub mod list;
pub mod outputs;
pub mod plan;
pub mod schema;
pub mod smoke;
pub mod validate;

/// Runs the parsed command line and returns the process exit status. Errors are printed here,
/// with their whole cause chain, and nowhere else.
pub fn main(cli: Cli) -> ExitStatus {
    let printer = Printer::from_args(&cli.global);
    init_tracing(printer.verbosity, printer.color);
    if let Err(err) = check_format(&cli.command, printer.format) {
        printer.error(&err);
        return ExitStatus::Failure;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&anyhow::Error::new(e).context("could not start the async runtime"));
            return ExitStatus::Failure;
        }
    };
    match runtime.block_on(run(cli.command, &printer)) {
        Ok(status) => status,
        Err(err) => {
            printer.error(&err);
            ExitStatus::Failure
        }
    }
}

/// The `--output` formats each command can print. Any other is refused before the command
/// runs: silently printing text where JSON was asked for would break a script later, not now.
fn formats(command: &Command) -> (&'static str, &'static [OutputFormat]) {
    use OutputFormat::{Json, Junit, Markdown, Text};
    const TEXT_JSON: &[OutputFormat] = &[Text, Json];
    const WITH_MARKDOWN: &[OutputFormat] = &[Text, Json, Markdown];
    match command {
        Command::Validate(_) => ("validate", TEXT_JSON),
        Command::Init(_) => ("init", TEXT_JSON),
        Command::Schema(_) => ("schema", TEXT_JSON),
        Command::Plan(_) => ("plan", WITH_MARKDOWN),
        Command::Apply(_) => ("apply", TEXT_JSON),
        Command::Destroy(_) => ("destroy", TEXT_JSON),
        Command::Outputs(_) => ("outputs", TEXT_JSON),
        Command::Smoke(_) => ("smoke", &[Text, Json, Markdown, Junit]),
        Command::Emulator(_) => ("emulator", TEXT_JSON),
        Command::Dev(_) => ("dev", &[Text]),
        Command::List(_) => ("list", TEXT_JSON),
        Command::Gc(_) => ("gc", WITH_MARKDOWN),
        Command::Keys(_) => ("keys", WITH_MARKDOWN),
        Command::Bench(_) => ("bench", TEXT_JSON),
    }
}

fn check_format(command: &Command, format: OutputFormat) -> anyhow::Result<()> {
    let (name, supported) = formats(command);
    if supported.contains(&format) {
        return Ok(());
    }
    let asked = format_name(format);
    let names: Vec<&str> = supported.iter().map(|f| format_name(*f)).collect();
    let hint = match command {
        Command::Dev(_) => {
            "; for results as data, run `evctl emulator`, then `evctl apply --output json` and \
             `evctl smoke --output json` against it"
        }
        _ => "",
    };
    anyhow::bail!(
        "`evctl {name}` cannot print --output {asked}: it prints {}{hint}",
        names.join(", ")
    )
}

fn format_name(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Text => "text",
        OutputFormat::Json => "json",
        OutputFormat::Markdown => "markdown",
        OutputFormat::Junit => "junit",
    }
}

/// Runs the command. Those that change nothing and have no use for a graceful stop are simply
/// abandoned on Ctrl-C or SIGTERM, exiting 130 like every interrupted command (SIGTERM would
/// otherwise kill them with 143); the others stop cleanly on their own terms.
async fn run(command: Command, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let handles_signals = matches!(
        command,
        Command::Apply(_)
            | Command::Destroy(_)
            | Command::Dev(_)
            | Command::Emulator(_)
            | Command::Gc(_)
            | Command::Bench(_)
    );
    if handles_signals {
        return dispatch(command, printer).await;
    }
    let interrupt = apply::interrupt_on_signals();
    match apply::until_interrupted(&interrupt, dispatch(command, printer)).await {
        Some(result) => result,
        None => {
            printer.status("Interrupted.");
            Ok(ExitStatus::Interrupted)
        }
    }
}

async fn dispatch(command: Command, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Validate(args) => validate::run(args, printer).await,
        Command::Init(args) => init::run(args, printer).await,
        Command::Schema(args) => schema::run(args, printer).await,
        Command::Plan(args) => plan::run(args, printer).await,
        Command::Apply(args) => apply::run(args, printer).await,
        Command::Destroy(args) => destroy::run(args, printer).await,
        Command::Outputs(args) => outputs::run(args, printer).await,
        Command::Smoke(args) => smoke::run(args, printer).await,
        Command::Emulator(args) => emulator::run(args, printer).await,
        Command::Dev(args) => dev::run(args, printer).await,
        Command::List(args) => list::run(args, printer).await,
        Command::Gc(args) => gc::run(args, printer).await,
        Command::Keys(args) => keys::run(args, printer).await,
        Command::Bench(args) => bench::run(args, printer).await,
    }
}

/// Logs (tracing) go to stderr: warnings by default, more with -v/-vv, overridable with RUST_LOG.
/// Crates whose TRACE output can show key values (see [`init_tracing`]): the SDK and HTTP stack
/// log URIs and bodies; the WebSocket library logs handshakes (the `header-` subprotocol holds
/// the connection's credentials) and frames (a subscribe carries its `authorization`).
const SECRET_TRACING_CRATES: [&str; 11] = [
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_runtime",
    "hyper",
    "hyper_util",
    "h2",
    "tungstenite",
    "tokio_tungstenite",
];

fn init_tracing(verbosity: Verbosity, color: bool) {
    let default = match verbosity {
        Verbosity::Quiet => "error",
        // Without a region anywhere, aws-config warns (three times, with a debug dump) that
        // instance metadata has none either; evctl's own error says what to do.
        Verbosity::Normal => "warn,aws_config::imds=error",
        Verbosity::Verbose => "info,evctl=debug",
        Verbosity::Trace => "debug,evctl=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // At TRACE the SDK, the HTTP stack and the WebSocket library log what they send and
    // receive, which carries API key values: their TRACE events are dropped, whatever RUST_LOG
    // says.
    let secret_safe = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() != tracing::Level::TRACE
            || !SECRET_TRACING_CRATES.iter().any(|c| {
                meta.target()
                    .strip_prefix(c)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_filter(filter)
        .with_filter(secret_safe);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
