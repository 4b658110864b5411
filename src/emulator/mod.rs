//! The local emulator of AppSync Event APIs: the control plane (AppSync's restJson wire
//! protocol, so the real SDKs and the AWS CLI work against it unmodified) and, per API, a
//! data-plane listener (HTTP publish and the real-time WebSocket, in [`dataplane`], which reads
//! the store through [`state::StoreDirectory`]).
//!
//! [`Emulator::start`] runs it in-process (for `evctl emulator`, `evctl dev` and tests) and
//! returns a [`Handle`]; [`control_router`] builds the control-plane router alone, for tests
//! that drive it without sockets. Layout: [`store`] holds the data and every operation's
//! rules, [`validate`] and [`code`] the input checks, [`routes`] the HTTP surface, [`server`]
//! the one serve loop, [`persist`] the state file, [`state`] what is shared at run time.

pub mod code;
pub mod dataplane;
pub mod error;
pub mod faults;
pub mod persist;
pub mod routes;
pub mod server;
pub mod shapes;
pub mod sigv4;
pub mod state;
pub mod stats;
pub mod store;
pub mod tls;
pub mod validate;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::task::JoinHandle;

use crate::signing::Credentials;

pub use faults::FaultSettings;
pub use routes::control_router;
pub use state::EmulatorState;
use store::{Account, Store};

/// Everything the emulator needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Control-plane address (port 0 picks a free one; see [`Handle::endpoint`]).
    pub listen: SocketAddr,
    /// Keep state in this file across restarts (`None`: in memory).
    pub state_file: Option<PathBuf>,
    /// Region in ARNs; SigV4 scopes must name it with `verify_sigv4`.
    pub region: String,
    /// Account id in ARNs (12 digits).
    pub account_id: String,
    /// Check SigV4 signatures of control-plane requests against `credentials`.
    pub verify_sigv4: bool,
    /// The one access key the emulator knows (control plane with `verify_sigv4`, and AWS_IAM
    /// on the data plane).
    pub credentials: Credentials,
    /// Delay added to every control-plane operation.
    pub latency: Option<Duration>,
    pub faults: FaultSettings,
    /// Ports data-plane listeners are bound on (`None`: ephemeral ports).
    pub data_plane_ports: Option<RangeInclusive<u16>>,
    /// Log each operation to stderr.
    pub log_requests: bool,
    /// Data-plane settings (region, account and credentials are overridden by the fields
    /// above, so the two planes always agree).
    pub dataplane: dataplane::Settings,
    /// Serve every listener (control plane and data planes) over TLS with this configuration
    /// (see [`tls::configure`]); endpoints and `dns` are then `https://`/`wss://`.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Default for Config {
    /// A quiet, in-memory emulator on a free loopback port: what tests and `evctl dev` want.
    fn default() -> Self {
        Config {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            state_file: None,
            region: "us-east-1".to_string(),
            account_id: "123456789012".to_string(),
            verify_sigv4: false,
            credentials: Credentials::new("test", "test", None),
            latency: None,
            faults: FaultSettings::default(),
            data_plane_ports: None,
            log_requests: false,
            dataplane: dataplane::Settings::default(),
            tls: None,
        }
    }
}

impl Config {
    fn check(&self) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&self.faults.rate) {
            bail!(
                "--fault-rate must be between 0.0 and 1.0, got {}",
                self.faults.rate
            );
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            bail!(
                "--account-id must be 12 digits (as in AWS ARNs), got {:?}",
                self.account_id
            );
        }
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 63
            && self
                .region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !region_ok {
            bail!(
                "--region must look like an AWS region (e.g. us-east-1), got {:?}",
                self.region
            );
        }
        Ok(())
    }
}

/// Starts emulators.
pub struct Emulator;

/// A running emulator. Dropping it stops the listeners (without waiting); call
/// [`Handle::shutdown`] to stop gracefully and wait.
pub struct Handle {
    addr: SocketAddr,
    state: Arc<EmulatorState>,
    control: Option<JoinHandle<()>>,
    notices: Vec<String>,
}

impl Emulator {
    /// Loads the state file (if any), binds the control plane and re-binds the data plane of
    /// every stored API (on its recorded port when free, else on a new one, with a notice).
    pub async fn start(mut config: Config) -> anyhow::Result<Handle> {
        config.check()?;
        config.dataplane.region = config.region.clone();
        config.dataplane.account_id = config.account_id.clone();
        config.dataplane.credentials = config.credentials.clone();
        let account = Account {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
        };
        let store = match &config.state_file {
            Some(path) => persist::load(path, &account)?,
            None => None,
        }
        .unwrap_or_else(|| Store::new(account));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| {
                format!(
                    "could not listen on {} (is another emulator running? --listen 127.0.0.1:0 \
                     picks a free port)",
                    config.listen
                )
            })?;
        let addr = listener
            .local_addr()
            .context("the control-plane listener has no address")?;
        let state = Arc::new(EmulatorState::new(config, store));
        let notices = rebind_data_planes(&state).await?;
        if let Some(path) = &state.config().state_file {
            // Proves the file is writable now, and records ports that moved.
            let snapshot = state.read(Store::clone);
            persist::save(path, &snapshot)?;
        }
        let control = tokio::spawn(server::serve(
            listener,
            control_router(Arc::clone(&state)),
            state.tls(),
            state.shutdown.clone(),
        ));
        Ok(Handle {
            addr,
            state,
            control: Some(control),
            notices,
        })
    }
}

async fn rebind_data_planes(state: &Arc<EmulatorState>) -> anyhow::Result<Vec<String>> {
    let stored: Vec<(String, String, u16)> = state.read(|s| {
        s.records()
            .map(|r| (r.api.api_id.clone(), r.api.name.clone(), r.port))
            .collect()
    });
    let host = state.data_plane_host();
    let mut notices = Vec::new();
    for (api_id, name, port) in stored {
        let listener = match state.bind_data_plane(Some(port)).await {
            Ok(listener) => listener,
            Err(_) => {
                let listener = state
                    .bind_data_plane(None)
                    .await
                    .map_err(|e| anyhow::anyhow!("API {api_id} ({name}): {}", e.message))?;
                let new_port = listener.local_addr()?.port();
                let (_, unsaved) = state
                    .change(|s| s.set_data_plane(&api_id, &host, new_port))
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                drop(unsaved); // saved with the whole store at start-up
                notices.push(format!(
                    "API {api_id} ({name}): its data-plane port {port} is taken; it now serves \
                     on {host}:{new_port} (its dns changed)"
                ));
                listener
            }
        };
        state.start_data_plane(&api_id, listener);
    }
    Ok(notices)
}

impl Handle {
    /// The control-plane address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The control-plane endpoint URL for SDKs and the AWS CLI (`--endpoint-url`,
    /// `AWS_ENDPOINT_URL_APPSYNC`), e.g. `http://127.0.0.1:4510` (`https://` with TLS).
    pub fn endpoint(&self) -> String {
        let host = self.state.data_plane_host();
        let scheme = if self.state.tls().is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    /// The shared state (for the data plane, `evctl dev` and tests).
    pub fn state(&self) -> &Arc<EmulatorState> {
        &self.state
    }

    /// What start-up had to change (e.g. a data-plane port that was taken).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Stops accepting, lets in-flight requests finish, closes every listener, and returns
    /// when all are closed. The state file is already up to date (it is written per change).
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        if let Some(control) = self.control.take() {
            let _ = control.await;
        }
        self.state.stop_all_data_planes().await;
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}
