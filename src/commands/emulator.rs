//! `evctl emulator`: runs the local emulator until Ctrl-C or SIGTERM. Turns the flags into an
//! [`emulator::Config`], prints the endpoint on stdout (the one result), everything else on
//! stderr.

use crate::cli::{EmulatorArgs, OutputFormat};
use crate::emulator::{Config, Emulator, FaultSettings, dataplane, tls};
use crate::exit::ExitStatus;
use crate::output::{Printer, Verbosity};
use crate::signing::Credentials;

pub async fn run(args: EmulatorArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let config = config(args, printer)?;
    // Listen for signals before anything is served, so that a SIGTERM sent as soon as the
    // endpoint is printed still stops the emulator cleanly.
    let stop = shutdown_signal()?;
    let handle = Emulator::start(config).await?;
    let config = handle.state().config();
    let endpoint = handle.endpoint();
    let state = match &config.state_file {
        Some(path) => format!("state in {}", path.display()),
        None => "state in memory".to_string(),
    };
    let apis = handle.state().read(|s| s.records().count());
    printer.status(&format!(
        "evctl emulator: AppSync control plane on {endpoint} (region {}, account {}, {state}, {apis} API(s))",
        config.region, config.account_id
    ));
    printer.status(&format!(
        "  point clients at it: AWS_ENDPOINT_URL_APPSYNC={endpoint} (or --endpoint-url {endpoint}); stop with Ctrl-C"
    ));
    for notice in handle.notices() {
        printer.warn(notice);
    }
    if handle.state().faults().enabled() {
        printer.status(&format!(
            "  injecting faults into {:.0}% of calls (seed {}: replay with --seed {})",
            config.faults.rate * 100.0,
            handle.state().faults().seed(),
            handle.state().faults().seed()
        ));
    }
    // The endpoint comes last: whoever waits for it knows the emulator serves and has said
    // everything above.
    match printer.format {
        OutputFormat::Json => printer.json(&serde_json::json!({
            "format_version": "1.0",
            "endpoint": endpoint,
            "region": config.region,
            "account_id": config.account_id,
            "state_file": config.state_file,
        }))?,
        _ => printer.result(&endpoint),
    }
    stop.await?;
    printer.status("evctl emulator: stopping");
    handle.shutdown().await;
    Ok(ExitStatus::Interrupted)
}

/// The flags, as emulator settings.
fn config(args: EmulatorArgs, printer: &Printer) -> anyhow::Result<Config> {
    let dataplane = dataplane::Settings::from_args(&args)?;
    let tls = tls::configure(
        args.tls,
        args.cert.as_deref(),
        args.key.as_deref(),
        args.state.as_deref(),
    )?;
    if let Some(tls) = &tls {
        let origin = if tls.generated { "generated" } else { "given" };
        printer.status(&format!(
            "evctl emulator: serving HTTPS and WSS with the {origin} certificate; trust {} \
             (NODE_EXTRA_CA_CERTS, curl --cacert, SSL_CERT_FILE)",
            tls.trust_path.display()
        ));
    }
    Ok(Config {
        listen: args.listen,
        state_file: args.state,
        region: args.region,
        account_id: args.account_id,
        verify_sigv4: args.verify_sigv4,
        credentials: Credentials::parse(&args.credentials)
            .map_err(|e| anyhow::anyhow!("--credentials: {e}"))?,
        latency: args.latency,
        faults: FaultSettings {
            rate: args.fault_rate,
            kinds: args.faults,
            seed: args.seed,
        },
        data_plane_ports: args.data_plane_ports,
        log_requests: printer.verbosity >= Verbosity::Normal,
        dataplane,
        tls: tls.map(|t| t.config),
    })
}

/// Installs the Ctrl-C and (on Unix) SIGTERM handlers now; the returned future ends when
/// either arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // `ctrl_c` registers its handler on first poll: poll it once now.
    let mut interrupt = Box::pin(tokio::signal::ctrl_c());
    let _ = futures_util::FutureExt::now_or_never(interrupt.as_mut());
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            r = interrupt => r?,
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        interrupt.await?;
        Ok(())
    })
}
