//! The emulator's shared state: the [`Store`] behind a lock, its persistence, the data plane
//! and the listener of each API, stats and fault draws. Control-plane handlers change the store
//! through [`EmulatorState::change`]; the data plane reads it through the [`Directory`] that
//! [`StoreDirectory`] implements over the same store.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::Config;
use super::dataplane::{self, ApiAuth, DataPlane, Directory, NamespaceInfo};
use super::error::ApiError;
use super::faults::Faults;
use super::persist;
use super::server;
use super::shapes::{AuthMode, HandlerConfig, HandlerConfigs};
use super::stats::Stats;
use super::store::{ApiRecord, Store};
use crate::model::{self, AuthModes};

/// Current time in epoch seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A running data-plane listener.
struct Listener {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Everything the control and data planes share.
pub struct EmulatorState {
    config: Config,
    store: Arc<RwLock<Store>>,
    data_plane: Arc<DataPlane>,
    /// The generation of the store (bumped by each change) last written to the state file.
    written: tokio::sync::Mutex<u64>,
    generation: std::sync::atomic::AtomicU64,
    data_planes: Mutex<HashMap<String, Listener>>,
    /// TLS for every listener (`--tls`, `--cert/--key`).
    tls: Option<TlsAcceptor>,
    stats: Stats,
    faults: Faults,
    /// Fires when the emulator shuts down; every listener's stop token is its child.
    pub(crate) shutdown: CancellationToken,
}

/// A change made in memory and not yet written to the state file.
#[must_use = "a change must be saved"]
pub struct Unsaved<'a> {
    state: &'a EmulatorState,
    generation: u64,
    snapshot: Option<Store>,
}

impl Unsaved<'_> {
    /// Writes the change to the state file (when there is one). A failure leaves the change in
    /// memory and is answered with InternalFailureException: the client learns that it may not
    /// survive a restart.
    pub async fn save(self) -> Result<(), ApiError> {
        let (Some(snapshot), Some(path)) = (self.snapshot, self.state.config.state_file.clone())
        else {
            return Ok(());
        };
        let mut written = self.state.written.lock().await;
        if *written >= self.generation {
            return Ok(()); // a later change already wrote a newer snapshot
        }
        let result = tokio::task::spawn_blocking(move || persist::save(&path, &snapshot))
            .await
            .map_err(|e| anyhow::anyhow!("state writer failed: {e}"))
            .and_then(|r| r);
        match result {
            Ok(()) => {
                *written = self.generation;
                Ok(())
            }
            Err(e) => {
                eprintln!("[emulator] error: {e:#}");
                Err(ApiError::internal(format!(
                    "The change was made but could not be saved to the state file: {e:#}"
                )))
            }
        }
    }
}

impl EmulatorState {
    pub(crate) fn new(config: Config, store: Store) -> Self {
        let faults = Faults::new(&config.faults);
        let store = Arc::new(RwLock::new(store));
        let data_plane = DataPlane::new(
            Arc::new(StoreDirectory(Arc::clone(&store))),
            config.dataplane.clone(),
        );
        let tls = config.tls.clone().map(TlsAcceptor::from);
        EmulatorState {
            config,
            store,
            data_plane,
            written: tokio::sync::Mutex::new(0),
            generation: std::sync::atomic::AtomicU64::new(0),
            data_planes: Mutex::new(HashMap::new()),
            tls,
            stats: Stats::default(),
            faults,
            shutdown: CancellationToken::new(),
        }
    }

    /// A fresh, empty state with no listeners, for driving [`control_router`] without sockets
    /// (`tower::ServiceExt::oneshot`). CreateApi through it still binds a data-plane port.
    ///
    /// [`control_router`]: super::control_router
    pub fn in_memory(config: Config) -> Arc<EmulatorState> {
        let account = super::store::Account {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
        };
        Arc::new(EmulatorState::new(config, Store::new(account)))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The TLS acceptor of every listener, when TLS is on.
    pub(crate) fn tls(&self) -> Option<TlsAcceptor> {
        self.tls.clone()
    }

    /// Per-operation request counts (also served at `GET /_emulator/stats`).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The fault draws (`--fault-rate`, `--faults`, `--seed`).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Reads the store (keep the closure short: it holds the lock).
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.store.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The data plane shared by every API's listener.
    pub fn data_plane(&self) -> &Arc<DataPlane> {
        &self.data_plane
    }

    /// A copy of an API's record (config, namespaces, keys), if it exists.
    pub fn api(&self, api_id: &str) -> Option<ApiRecord> {
        self.read(|s| s.record(api_id).ok().cloned())
    }

    /// Changes the store in memory; the caller saves the returned [`Unsaved`] before answering.
    pub fn change<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, ApiError>,
    ) -> Result<(R, Unsaved<'_>), ApiError> {
        let mut store = self.store.write().unwrap_or_else(|p| p.into_inner());
        let value = f(&mut store)?;
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let snapshot = self.config.state_file.is_some().then(|| store.clone());
        Ok((
            value,
            Unsaved {
                state: self,
                generation,
                snapshot,
            },
        ))
    }

    /// [`change`](Self::change), then save.
    pub async fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let (value, unsaved) = self.change(f)?;
        unsaved.save().await?;
        Ok(value)
    }

    /// The host written into `dns`: the control plane's IP (loopback when it listens on all
    /// interfaces), bracketed for IPv6.
    pub fn data_plane_host(&self) -> String {
        let ip = match self.config.listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        match ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        }
    }

    /// Binds a data-plane listener: `port` if given (a restart re-binding its recorded port),
    /// else the first free port of `--data-plane-ports`, else an ephemeral port.
    pub async fn bind_data_plane(&self, port: Option<u16>) -> Result<TcpListener, ApiError> {
        let ip = self.config.listen.ip();
        let candidates: Vec<u16> = match (port, &self.config.data_plane_ports) {
            (Some(port), _) => vec![port],
            (None, Some(range)) => range.clone().collect(),
            (None, None) => vec![0],
        };
        let mut last_error = None;
        for port in candidates {
            match TcpListener::bind(SocketAddr::new(ip, port)).await {
                Ok(listener) => return Ok(listener),
                Err(e) => last_error = Some(e),
            }
        }
        let range = match (port, &self.config.data_plane_ports) {
            (Some(port), _) => port.to_string(),
            (None, Some(r)) => format!("{}-{}", r.start(), r.end()),
            (None, None) => "0".to_string(),
        };
        Err(ApiError::internal(format!(
            "Could not bind a data-plane listener on {ip} port {range}: {}",
            last_error.map_or_else(|| "no ports to try".to_string(), |e| e.to_string())
        )))
    }

    /// Serves the data plane of `api_id` on `listener` until the API is deleted or the
    /// emulator stops.
    pub(crate) fn start_data_plane(self: &Arc<Self>, api_id: &str, listener: TcpListener) {
        let stop = self.shutdown.child_token();
        let router =
            dataplane::http::router_until(Arc::clone(&self.data_plane), api_id, stop.clone());
        let task = tokio::spawn(server::serve(
            listener,
            router,
            self.tls.clone(),
            stop.clone(),
        ));
        let previous = self
            .data_planes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(api_id.to_string(), Listener { stop, task });
        if let Some(previous) = previous {
            previous.stop.cancel();
        }
    }

    /// Stops the data plane of `api_id`: no new connections, open ones closed (WebSockets
    /// through `dataplane::http::router_until`). Returns once the listener is closed.
    pub(crate) async fn stop_data_plane(&self, api_id: &str) {
        let data_plane = self
            .data_planes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(api_id);
        if let Some(data_plane) = data_plane {
            data_plane.stop.cancel();
            let _ = data_plane.task.await;
        }
        self.data_plane.forget(api_id);
    }

    /// Stops every data plane (at shutdown).
    pub(crate) async fn stop_all_data_planes(&self) {
        let all: Vec<Listener> = self
            .data_planes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, d)| d)
            .collect();
        for data_plane in &all {
            data_plane.stop.cancel();
        }
        for data_plane in all {
            let _ = data_plane.task.await;
        }
    }
}

/// The data plane's view of the store: auth configuration, namespaces and keys, read fresh on
/// every request so control-plane changes apply at once.
pub struct StoreDirectory(Arc<RwLock<Store>>);

fn mode_set(modes: &[AuthMode]) -> AuthModes {
    modes.iter().map(|m| m.auth_type).collect()
}

impl StoreDirectory {
    fn with_record<R>(&self, api_id: &str, f: impl FnOnce(&ApiRecord) -> Option<R>) -> Option<R> {
        let store = self.0.read().unwrap_or_else(|p| p.into_inner());
        store.record(api_id).ok().and_then(f)
    }
}

fn model_handler_configs(configs: &HandlerConfigs) -> model::HandlerConfigs {
    let one = |config: &Option<HandlerConfig>| {
        config.as_ref().map(|c| model::HandlerConfig {
            behavior: c.behavior,
            integration: model::Integration {
                data_source_name: c.integration.data_source_name.clone(),
                invoke_type: c
                    .integration
                    .lambda_config
                    .as_ref()
                    .and_then(|l| l.invoke_type),
            },
        })
    };
    model::HandlerConfigs {
        on_publish: one(&configs.on_publish),
        on_subscribe: one(&configs.on_subscribe),
    }
}

impl Directory for StoreDirectory {
    fn api(&self, api_id: &str) -> Option<ApiAuth> {
        self.with_record(api_id, |r| {
            let config = &r.api.event_config;
            Some(ApiAuth {
                providers: config.auth_providers.clone(),
                connection_modes: mode_set(&config.connection_auth_modes),
                default_publish_modes: mode_set(&config.default_publish_auth_modes),
                default_subscribe_modes: mode_set(&config.default_subscribe_auth_modes),
            })
        })
    }

    fn namespace(&self, api_id: &str, name: &str) -> Option<NamespaceInfo> {
        self.with_record(api_id, |r| {
            r.namespace(name).map(|ns| NamespaceInfo {
                publish_modes: ns
                    .publish_auth_modes
                    .as_deref()
                    .map(mode_set)
                    .unwrap_or_default(),
                subscribe_modes: ns
                    .subscribe_auth_modes
                    .as_deref()
                    .map(mode_set)
                    .unwrap_or_default(),
                tags: ns.tags.clone(),
                code: ns.code_handlers.as_deref().map(Arc::from),
                handler_configs: ns
                    .handler_configs
                    .as_ref()
                    .map(model_handler_configs)
                    .unwrap_or_default(),
            })
        })
    }

    fn api_key_expires(&self, api_id: &str, key: &str) -> Option<i64> {
        self.with_record(api_id, |r| {
            r.keys
                .iter()
                .find(|e| e.item.id == key)
                .map(|e| e.item.expires)
        })
    }
}
