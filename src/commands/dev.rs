//! `evctl dev`: the local loop in one command. Starts the embedded emulator (control and data
//! plane), applies the spec to it, runs the smoke test, prints the endpoints, a key and
//! copy-paste snippets, then watches the spec and its handler files and re-plans, applies and
//! smoke-tests on every save, until Ctrl-C (exit 130). With `--once` it stops after the first
//! smoke test, whose verdict is the exit code.
//!
//! The embedded emulator accepts tokens that `dev` mints for the spec's Cognito and OIDC
//! providers (it checks claims, not signatures, without `--jwks`) and a Lambda token it
//! generates, so every auth mode of a spec is exercised locally. `EVCTL_COGNITO_TOKEN`,
//! `EVCTL_OIDC_TOKEN` and `EVCTL_LAMBDA_TOKEN` replace the minted ones.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use notify::Watcher as _;

use super::apply::{Replan, carry_out, interrupt_on_signals, until_interrupted};
use super::plan::{READ_CONCURRENCY, load_spec, now};
use super::smoke::{SmokeOptions, Tokens, print_report, smoke_spec, verdict};
use crate::cli::{DevArgs, SpecArgs};
use crate::control::RetryPolicy;
use crate::control::sdk::SdkControlPlane;
use crate::emulator::{self, Emulator};
use crate::engine::{
    DiffOptions, ExecOptions, Interrupt, ReadOptions, Unowned, find_and_observe, plan_apply,
};
use crate::exit::ExitStatus;
use crate::model::{AuthType, DesiredState};
use crate::output::{Printer, Style};
use crate::smoke::{self, Credential, Endpoints, Report, tls};
use crate::spec::LoadedSpec;

/// How long a burst of file events (an editor's save) settles before the spec is re-read.
const SETTLE: Duration = Duration::from_millis(150);

pub async fn run(args: DevArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // A broken spec is reported before anything starts.
    let mut loaded = load_spec(&args.spec, false, printer)?;
    let interrupt = interrupt_on_signals();
    let env_tokens = Tokens {
        cognito: non_empty_env("EVCTL_COGNITO_TOKEN"),
        oidc: non_empty_env("EVCTL_OIDC_TOKEN"),
        lambda: non_empty_env("EVCTL_LAMBDA_TOKEN"),
    };
    let local = Local::start(&args, env_tokens, printer).await?;
    let result = serve(&args, &local, &mut loaded, &interrupt, printer).await;
    printer.status("evctl dev: stopping the emulator");
    local.handle.shutdown().await;
    result
}

/// The first cycle, then (without `--once`) the watch loop.
async fn serve(
    args: &DevArgs,
    local: &Local,
    loaded: &mut LoadedSpec,
    interrupt: &Interrupt,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let report = match local.cycle(loaded, interrupt, printer).await? {
        Cycle::Interrupted => return Ok(ExitStatus::Interrupted),
        Cycle::Smoked(report) => report,
    };
    if args.once {
        printer.status(
            "evctl dev: done (--once). Without --once the emulator keeps serving, prints its \
             endpoints, a key and snippets, and re-applies the spec on every save.",
        );
        return Ok(verdict(&report));
    }
    printer.result(&local.connection_info(loaded, printer).await?);
    watch(&args.spec, local, loaded, interrupt, printer).await
}

/// Re-plans, applies and smoke-tests on every save of the spec or a handler file.
async fn watch(
    spec: &SpecArgs,
    local: &Local,
    loaded: &mut LoadedSpec,
    interrupt: &Interrupt,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(event.paths);
        }
    })
    .context("could not watch the spec for changes")?;
    let mut watched = Watched::default();
    watched.update(&mut watcher, loaded)?;
    printer.status(&format!(
        "evctl dev: watching {} (every save re-plans, applies and smoke-tests); stop with Ctrl-C",
        watched.describe()
    ));
    loop {
        let paths = tokio::select! {
            _ = interrupt.triggered() => return Ok(ExitStatus::Interrupted),
            paths = events.recv() => paths,
        };
        let Some(paths) = paths else {
            anyhow::bail!("the file watcher stopped");
        };
        let Some(changed) = paths.iter().find(|p| watched.contains(p)).cloned() else {
            continue;
        };
        // An editor's save is often several events (write, rename, chmod): let them settle.
        tokio::time::sleep(SETTLE).await;
        while events.try_recv().is_ok() {}
        printer.status(&format!(
            "\nevctl dev: {} changed: re-planning",
            changed.display()
        ));
        match load_spec(spec, false, printer) {
            Ok(next) => *loaded = next,
            Err(err) => {
                printer.error(&err);
                printer.status(
                    "evctl dev: fix the spec and save again; still serving the last good one",
                );
                continue;
            }
        }
        watched.update(&mut watcher, loaded)?;
        match local.cycle(loaded, interrupt, printer).await {
            Ok(Cycle::Interrupted) => return Ok(ExitStatus::Interrupted),
            Ok(Cycle::Smoked(_)) => {}
            Err(err) => printer.error(&err),
        }
        printer.status("evctl dev: watching for the next save");
    }
}

/// The files `dev` watches: the spec and its handler files, by their directory (editors
/// replace files by renaming, which a watch on the file itself would miss).
#[derive(Default)]
struct Watched {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Watched {
    fn update(
        &mut self,
        watcher: &mut notify::RecommendedWatcher,
        loaded: &LoadedSpec,
    ) -> anyhow::Result<()> {
        let wanted: Vec<&Path> = std::iter::once(loaded.path.as_path())
            .chain(loaded.handler_files.iter().map(PathBuf::as_path))
            .collect();
        for file in wanted {
            let key = normalise(file);
            let Some(dir) = key.parent().map(Path::to_path_buf) else {
                continue;
            };
            if self.dirs.insert(dir.clone()) {
                watcher
                    .watch(&dir, notify::RecursiveMode::NonRecursive)
                    .with_context(|| format!("could not watch {}", dir.display()))?;
            }
            self.files.insert(key);
        }
        Ok(())
    }

    fn contains(&self, path: &Path) -> bool {
        self.files.contains(&normalise(path))
    }

    fn describe(&self) -> String {
        let n = self.files.len();
        match n {
            1 => "the spec".to_string(),
            _ => format!("the spec and {} handler file(s)", n - 1),
        }
    }
}

/// An absolute path with a canonical directory (the file itself may be mid-replacement).
fn normalise(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_path_buf())
            .join(name),
        _ => absolute,
    }
}

/// The embedded emulator and what `dev` needs to drive it.
struct Local {
    handle: crate::emulator::Handle,
    cp: SdkControlPlane,
    retry: RetryPolicy,
    smoke: SmokeOptions,
    iam: crate::signing::Credentials,
    region: String,
}

/// Where `evctl dev` serves when `--listen` is not given: a fixed port, so that the snippets it
/// prints stay valid from one run to the next.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4510));

/// Starts the emulator on `--listen`, or on [`DEFAULT_LISTEN`] when none was given. A taken
/// default port is not an error (another `evctl dev` or `evctl emulator` may hold it): the
/// emulator moves to a free port and says so. An address the user chose is used or fails.
async fn start_emulator(
    config: emulator::Config,
    listen: Option<SocketAddr>,
    printer: &Printer,
) -> anyhow::Result<crate::emulator::Handle> {
    start_emulator_with_default(config, listen, DEFAULT_LISTEN, printer).await
}

async fn start_emulator_with_default(
    mut config: emulator::Config,
    listen: Option<SocketAddr>,
    default: SocketAddr,
    printer: &Printer,
) -> anyhow::Result<crate::emulator::Handle> {
    let explicit = listen.is_some();
    config.listen = listen.unwrap_or(default);
    let first = Emulator::start(config.clone()).await;
    let err = match first {
        Ok(handle) => return Ok(handle),
        Err(err) => err,
    };
    if explicit || !is_addr_in_use(&err) {
        return Err(err.context(format!(
            "could not start the emulator on {} (is another `evctl dev` or `evctl emulator` \
             running? choose another address with --listen, e.g. 127.0.0.1:0)",
            config.listen
        )));
    }
    printer.warn(&format!(
        "{} is in use (another `evctl dev` or `evctl emulator`?); serving on a free port instead \
         (choose one with --listen)",
        config.listen
    ));
    config.listen = SocketAddr::new(config.listen.ip(), 0);
    Emulator::start(config)
        .await
        .context("could not start the emulator on a free port")
}

fn is_addr_in_use(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// How one apply-and-smoke cycle ended.
enum Cycle {
    Smoked(Report),
    Interrupted,
}

impl Local {
    async fn start(args: &DevArgs, env_tokens: Tokens, printer: &Printer) -> anyhow::Result<Local> {
        let tls_setup = emulator::tls::configure(args.tls, None, None, None)?;
        let mut config = emulator::Config::default();
        let lambda_token = env_tokens
            .lambda
            .clone()
            .unwrap_or_else(|| format!("evctl-dev-{}", uuid::Uuid::new_v4().simple()));
        config.dataplane.lambda_tokens = vec![lambda_token.clone()];
        config.tls = tls_setup.as_ref().map(|t| t.config.clone());
        let region = config.region.clone();
        let iam = config.credentials.clone();
        let handle = start_emulator(config, args.listen, printer).await?;
        let endpoint = handle.endpoint();
        let (trust_pem, client_tls) = match &tls_setup {
            Some(t) => {
                let pem = std::fs::read(&t.trust_path)
                    .with_context(|| format!("could not read the CA {}", t.trust_path.display()))?;
                printer.status(&format!(
                    "evctl dev: serving HTTPS and WSS; trust {} (NODE_EXTRA_CA_CERTS, curl --cacert)",
                    t.trust_path.display()
                ));
                (Some(pem), tls::client_config(Some(&t.trust_path))?)
            }
            None => (None, tls::client_config(None)?),
        };
        printer.status(&format!(
            "evctl dev: emulator on {endpoint} (region {region}, credentials {}:{})",
            iam.access_key_id, iam.secret_access_key
        ));
        let retry = RetryPolicy::from_env(|name| std::env::var(name).ok())?;
        let cp = SdkControlPlane::local(&endpoint, &region, &iam, trust_pem, retry).await?;
        Ok(Local {
            handle,
            cp,
            retry,
            smoke: SmokeOptions {
                tls: client_tls,
                plain: tls_setup.is_none(),
                timeout: None,
                // The emulator's listeners are up before its endpoints are reported.
                wait: Duration::from_secs(5),
                tokens: Tokens {
                    lambda: Some(lambda_token),
                    ..env_tokens
                },
            },
            iam,
            region,
        })
    }

    fn read(&self) -> ReadOptions {
        ReadOptions {
            concurrency: READ_CONCURRENCY,
            retry: self.retry,
        }
    }

    /// Plans and applies `loaded` (the plan on stderr), then smoke-tests it (the report on
    /// stdout).
    async fn cycle(
        &self,
        loaded: &LoadedSpec,
        interrupt: &Interrupt,
        printer: &Printer,
    ) -> anyhow::Result<Cycle> {
        let options = DiffOptions {
            now: now(),
            prune: true,
            adopt: false,
        };
        let Some(prepared) = until_interrupted(
            interrupt,
            plan_apply(&self.cp, &loaded.desired, options, self.read()),
        )
        .await
        else {
            return Ok(Cycle::Interrupted);
        };
        let exec = ExecOptions {
            concurrency: READ_CONCURRENCY,
            retry: self.retry,
            // dev's embedded emulator is its own: no concurrent run to wait out, so the
            // concurrent-apply guard checks without the settle (see `engine::guard`).
            create_settle: std::time::Duration::ZERO,
        };
        let replan = Replan {
            desired: &loaded.desired,
            options,
            read: self.read(),
        };
        let applied = carry_out(
            &self.cp,
            prepared?,
            exec,
            false,
            interrupt,
            false,
            Some(replan),
            printer,
        )
        .await?;
        if applied == ExitStatus::Interrupted {
            return Ok(Cycle::Interrupted);
        }
        let mut options = self.smoke.clone();
        let minted = mint_tokens(&loaded.desired);
        options.tokens.cognito = options.tokens.cognito.or(minted.cognito);
        options.tokens.oidc = options.tokens.oidc.or(minted.oidc);
        let iam = self.iam.clone();
        let smoked = smoke_spec(
            &self.cp,
            self.read(),
            loaded,
            &options,
            printer,
            |region| async {
                Ok(Credential::Iam {
                    credentials: iam,
                    region,
                })
            },
        );
        let Some(report) = until_interrupted(interrupt, smoked).await else {
            return Ok(Cycle::Interrupted);
        };
        let report = report?;
        print_report(printer, &report, false)?;
        Ok(Cycle::Smoked(report))
    }

    /// Endpoints, a key and snippets to connect, for the API the spec describes.
    async fn connection_info(
        &self,
        loaded: &LoadedSpec,
        printer: &Printer,
    ) -> anyhow::Result<String> {
        let observation = find_and_observe(
            &self.cp,
            &loaded.desired.api.name,
            Unowned::Ignore,
            &BTreeSet::new(),
            self.read(),
        )
        .await?;
        let observed = &observation.state;
        let target = smoke::target::target(
            &loaded.desired,
            &loaded.smoke.channels,
            observed,
            !self.smoke.plain,
        )?;
        let key = smoke::target::api_key(&loaded.desired, observed, now()).ok();
        let endpoint = self.handle.endpoint();
        let e = &target.endpoints;
        let mut text = format!(
            "{}\n\n  control plane   {endpoint}\n                  (AWS_ENDPOINT_URL_APPSYNC={endpoint} AWS_REGION={} AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={})\n  HTTP publish    {}\n  real-time       {}\n",
            printer.paint(
                &format!(
                    "evctl dev: {} ({}) is served by the local emulator",
                    target.api_name, target.api_id
                ),
                Style::Bold
            ),
            self.region,
            self.iam.access_key_id,
            self.iam.secret_access_key,
            e.publish_url,
            e.realtime_url,
        );
        let Some(Credential::ApiKey { name, key }) = key else {
            text.push_str(
                "\nThis API has no API key, so there is no copy-paste snippet: sign requests \
                 with the credentials above (AWS_IAM) or a token of its auth providers.\n",
            );
            return Ok(text);
        };
        text.push_str(&format!("  API key {name:<8}{}\n", key.expose()));
        // A namespace where the key may publish and subscribe; one without an onSubscribe
        // handler (which might refuse a wildcard) first.
        let mut usable: Vec<_> = target
            .scopes
            .iter()
            .filter(|s| {
                s.modes.as_ref().is_some_and(|m| {
                    m.publish.contains(&AuthType::ApiKey) && m.subscribe.contains(&AuthType::ApiKey)
                })
            })
            .collect();
        usable.sort_by_key(|s| s.subscribe_handler);
        match usable.first() {
            Some(scope) => {
                let subscribe = if scope.subscribe_handler {
                    "hello"
                } else {
                    "*"
                };
                text.push_str(&snippets(
                    e,
                    key.expose(),
                    &format!("/{}/hello", scope.namespace),
                    &format!("/{}/{subscribe}", scope.namespace),
                ));
            }
            None => text.push_str(
                "\nNo namespace lets an API key both publish and subscribe, so there is no \
                 copy-paste snippet.\n",
            ),
        }
        Ok(text)
    }
}

/// A curl publish to `channel` and a JavaScript subscriber on `subscription`, with an API key.
fn snippets(endpoints: &Endpoints, key: &str, channel: &str, subscription: &str) -> String {
    let Endpoints {
        http_host,
        publish_url,
        realtime_url,
    } = endpoints;
    format!(
        r#"
Publish an event:

  curl -s {publish_url} -H 'content-type: application/json' -H 'x-api-key: {key}' \
    -d '{{"channel":"{channel}","events":["{{\"text\":\"hi\"}}"]}}'

Subscribe from JavaScript (a browser console, Node 22+, or Node 20 with --experimental-websocket):

  const auth = {{ host: '{http_host}', 'x-api-key': '{key}' }};
  const header = btoa(JSON.stringify(auth)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const ws = new WebSocket('{realtime_url}', ['aws-appsync-event-ws', `header-${{header}}`]);
  ws.onopen = () => ws.send(JSON.stringify({{ type: 'connection_init' }}));
  ws.onmessage = (message) => {{
    const msg = JSON.parse(message.data);
    if (msg.type === 'connection_ack')
      ws.send(JSON.stringify({{ type: 'subscribe', id: crypto.randomUUID(), channel: '{subscription}', authorization: auth }}));
    if (msg.type === 'data') console.log(JSON.parse(msg.event));
  }};
"#
    )
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Tokens the embedded emulator accepts for the spec's Cognito and OIDC providers: JWTs with
/// the claims AppSync checks (issuer, app client, lifetimes), signed with a throwaway key (the
/// emulator checks signatures only when given a JWKS). `None` where a provider's settings
/// cannot be met (an `appIdClientRegex` that `evctl-dev` does not match).
fn mint_tokens(desired: &DesiredState) -> Tokens {
    let now = now();
    let provider = |t: AuthType| desired.api.auth_providers.iter().find(|p| p.auth_type == t);
    let cognito = provider(AuthType::AmazonCognitoUserPools)
        .and_then(|p| p.cognito_config.as_ref())
        .and_then(|c| {
            let client = "evctl-dev";
            let allowed = c.app_id_client_regex.as_deref().is_none_or(|pattern| {
                regex_lite::Regex::new(&format!("^(?:{pattern})$"))
                    .is_ok_and(|re| re.is_match(client))
            });
            allowed.then(|| {
                jwt(serde_json::json!({
                    "iss": format!("https://cognito-idp.{}.amazonaws.com/{}", c.aws_region, c.user_pool_id),
                    "token_use": "access",
                    "client_id": client,
                    "sub": "evctl-dev-user",
                    "username": "evctl-dev",
                    "iat": now,
                    "auth_time": now,
                    "exp": now + 3600,
                }))
            })
        })
        .flatten();
    let oidc = provider(AuthType::OpenidConnect)
        .and_then(|p| p.openid_connect_config.as_ref())
        .and_then(|c| {
            jwt(serde_json::json!({
                "iss": c.issuer,
                "aud": c.client_id.clone().unwrap_or_else(|| "evctl-dev".into()),
                "sub": "evctl-dev-user",
                "iat": now,
                "auth_time": now,
                "exp": now + 3600,
            }))
        });
    Tokens {
        cognito,
        oidc,
        lambda: None,
    }
}

fn jwt(claims: serde_json::Value) -> Option<String> {
    let secret = uuid::Uuid::new_v4();
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).ok()?;
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_name_the_endpoints_the_key_and_the_namespace() {
        let endpoints = Endpoints::new(
            &crate::model::Dns {
                http: "127.0.0.1:4600".into(),
                realtime: "127.0.0.1:4600".into(),
            },
            false,
        );
        let text = snippets(&endpoints, "da2-k", "/default/hello", "/default/*");
        assert!(
            text.contains("curl -s http://127.0.0.1:4600/event"),
            "{text}"
        );
        assert!(text.contains("-H 'x-api-key: da2-k'"), "{text}");
        assert!(
            text.contains(r#"-d '{"channel":"/default/hello","events":["{\"text\":\"hi\"}"]}'"#),
            "{text}"
        );
        assert!(text.contains("new WebSocket('ws://127.0.0.1:4600/event/realtime', ['aws-appsync-event-ws', `header-${header}`])"), "{text}");
        assert!(text.contains("channel: '/default/*'"), "{text}");
    }
}

#[cfg(test)]
mod listen_tests {
    use super::*;

    fn quiet() -> Printer {
        Printer::plain()
    }

    #[tokio::test]
    async fn a_taken_default_port_moves_to_a_free_one_but_a_chosen_one_fails() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
        let taken = holder.local_addr().expect("held address");
        let err = start_emulator(emulator::Config::default(), Some(taken), &quiet())
            .await
            .err()
            .expect("an address the user chose is used or fails");
        assert!(is_addr_in_use(&err), "{err:#}");
        assert!(format!("{err:#}").contains("--listen"), "{err:#}");

        // The same taken port as the default: start_emulator falls back to a free port.
        let handle = start_at_default_for_test(emulator::Config::default(), taken).await;
        assert_ne!(handle.endpoint(), format!("http://{taken}"));
        handle.shutdown().await;
    }

    /// `start_emulator` with `taken` standing in for [`DEFAULT_LISTEN`] (tests never hold the
    /// real default port, which a developer's own `evctl dev` may be using).
    async fn start_at_default_for_test(
        config: emulator::Config,
        taken: SocketAddr,
    ) -> crate::emulator::Handle {
        start_emulator_with_default(config, None, taken, &quiet())
            .await
            .expect("falls back to a free port")
    }
}
