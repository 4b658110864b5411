//! `evctl bench apply`: the apply of a generated spec (20 namespaces and 5 keys by default)
//! against the embedded emulator with added latency, measured against a named alternative in
//! the same run: a sequential script making the same SDK calls one after another (ListApis,
//! CreateApi, then every CreateChannelNamespace and CreateApiKey in turn), through the same
//! client. Reports times (median of the runs), the ratio, and the control-plane calls of plan
//! and apply from the emulator's `/_emulator/stats`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{AwsArgs, BenchApplyArgs, OutputFormat};
use crate::commands::plan::now;
use crate::control::sdk::SdkControlPlane;
use crate::control::{ControlPlane, RetryPolicy};
use crate::emulator::{Config, Emulator};
use crate::engine::diff::renewal_validity;
use crate::engine::{
    DiffOptions, ExecOptions, Interrupt, ReadOptions, Silent, execute, guard, plan_apply,
};
use crate::exit::ExitStatus;
use crate::model::{
    ApiConfig, AuthProvider, AuthType, DesiredState, KeyConfig, KeyExpiry, NamespaceConfig,
    OWNER_TAG_KEY, OWNER_TAG_VALUE, Tags, key_description,
};
use crate::output::Printer;

/// Namespace and key operations in flight at once for evctl (its default).
const CONCURRENCY: usize = 4;

/// Calls per operation, as the emulator counted them.
type Calls = BTreeMap<String, u64>;

#[derive(Debug, Serialize)]
struct Measured {
    /// Median over the runs, in milliseconds.
    millis: f64,
    calls: u64,
    by_operation: Calls,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    namespaces: usize,
    keys: usize,
    latency_ms: u128,
    runs: usize,
    concurrency: usize,
    evctl_plan: Measured,
    evctl_apply: Measured,
    evctl_total: Measured,
    sequential_script: Measured,
    /// sequential_script / evctl_total.
    speedup: f64,
    evctl_plan_no_changes: Measured,
}

pub async fn run(args: BenchApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let runs = args.runs.max(1);
    let emulator = Emulator::start(Config {
        latency: Some(args.latency),
        ..Config::default()
    })
    .await
    .context("could not start the embedded emulator")?;
    let endpoint = emulator.endpoint();
    let result = measure(&args, runs, &endpoint).await;
    emulator.shutdown().await;
    let report = result?;

    match printer.format {
        OutputFormat::Json => printer.json(&report)?,
        _ => printer.result(&render(&report, &args)),
    }
    Ok(ExitStatus::Success)
}

async fn measure(
    args: &BenchApplyArgs,
    runs: usize,
    endpoint: &str,
) -> anyhow::Result<BenchReport> {
    let aws = AwsArgs {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
    };
    let retry = RetryPolicy::default();
    let credentials = Config::default().credentials;
    let cp = SdkControlPlane::connect_as(
        &aws,
        retry,
        Some((&credentials.access_key_id, &credentials.secret_access_key)),
    )
    .await?;
    let stats = Stats::new(endpoint);
    let read = ReadOptions {
        concurrency: crate::commands::plan::READ_CONCURRENCY,
        retry,
    };

    let mut samples: BTreeMap<&str, Vec<(Duration, Calls)>> = BTreeMap::new();
    for run in 0..runs {
        let desired = spec(&format!("bench-evctl-{run}"), args.namespaces, args.keys);
        let options = DiffOptions {
            now: now(),
            prune: true,
            adopt: false,
        };

        stats.reset().await?;
        let t = Instant::now();
        let prepared = plan_apply(&cp, &desired, options, read).await?;
        let plan_time = t.elapsed();
        let plan_calls = stats.get().await?;

        stats.reset().await?;
        let t = Instant::now();
        let report = execute(
            &prepared.plan,
            &prepared.observation.state,
            &cp,
            ExecOptions {
                concurrency: CONCURRENCY,
                retry,
                // What `evctl apply` does: the concurrent-apply guard's check is part of it.
                create_settle: guard::CREATE_SETTLE,
            },
            &Silent,
            &Interrupt::new(),
        )
        .await;
        let apply_time = t.elapsed();
        let apply_calls = stats.get().await?;
        if !report.succeeded() {
            anyhow::bail!(
                "evctl's apply failed: {:?}",
                report.failures().collect::<Vec<_>>()
            );
        }

        stats.reset().await?;
        let t = Instant::now();
        let again = plan_apply(
            &cp,
            &desired,
            DiffOptions {
                now: now(),
                ..options
            },
            read,
        )
        .await?;
        let again_time = t.elapsed();
        let again_calls = stats.get().await?;
        if again.plan.has_changes() {
            anyhow::bail!("the plan after evctl's apply is not empty");
        }

        let script = spec(&format!("bench-script-{run}"), args.namespaces, args.keys);
        stats.reset().await?;
        let t = Instant::now();
        sequential_script(&cp, &script).await?;
        let script_time = t.elapsed();
        let script_calls = stats.get().await?;

        let mut total_calls = plan_calls.clone();
        for (op, n) in &apply_calls {
            *total_calls.entry(op.clone()).or_default() += n;
        }
        samples
            .entry("plan")
            .or_default()
            .push((plan_time, plan_calls));
        samples
            .entry("apply")
            .or_default()
            .push((apply_time, apply_calls));
        samples
            .entry("total")
            .or_default()
            .push((plan_time + apply_time, total_calls));
        samples
            .entry("script")
            .or_default()
            .push((script_time, script_calls));
        samples
            .entry("again")
            .or_default()
            .push((again_time, again_calls));
    }

    let mut take = |name: &str| median(samples.remove(name).unwrap_or_default());
    let (evctl_plan, evctl_apply, evctl_total) = (take("plan"), take("apply"), take("total"));
    let (sequential_script, evctl_plan_no_changes) = (take("script"), take("again"));
    Ok(BenchReport {
        namespaces: args.namespaces,
        keys: args.keys,
        latency_ms: args.latency.as_millis(),
        runs,
        concurrency: CONCURRENCY,
        speedup: sequential_script.millis / evctl_total.millis.max(f64::EPSILON),
        evctl_plan,
        evctl_apply,
        evctl_total,
        sequential_script,
        evctl_plan_no_changes,
    })
}

/// The alternative: what a straightforward script does, one call after another.
async fn sequential_script(cp: &SdkControlPlane, desired: &DesiredState) -> anyhow::Result<()> {
    let existing = cp.list_apis().await?;
    if existing
        .iter()
        .any(|l| l.api.config.name == desired.api.name)
    {
        anyhow::bail!("the script's API already exists");
    }
    let mut tags = Tags::new();
    tags.insert(OWNER_TAG_KEY.into(), OWNER_TAG_VALUE.into());
    let api = cp.create_api(&desired.api, &tags).await?;
    for ns in desired.namespaces.values() {
        cp.create_namespace(&api.id, ns).await?;
    }
    for key in desired.keys.values() {
        let KeyExpiry::Validity { seconds } = key.expiry else {
            anyhow::bail!("the generated keys have a validity policy");
        };
        cp.create_key(
            &api.id,
            &key_description(&key.name, key.description.as_deref()),
            now() + renewal_validity(seconds),
        )
        .await?;
    }
    Ok(())
}

/// The generated spec: an API-key API with `namespaces` namespaces and `keys` keys.
fn spec(name: &str, namespaces: usize, keys: usize) -> DesiredState {
    let api_key: BTreeSet<AuthType> = [AuthType::ApiKey].into();
    DesiredState {
        api: ApiConfig {
            name: name.to_string(),
            owner_contact: None,
            tags: Tags::new(),
            auth_providers: vec![AuthProvider {
                auth_type: AuthType::ApiKey,
                cognito_config: None,
                openid_connect_config: None,
                lambda_authorizer_config: None,
            }],
            connection_auth_modes: api_key.clone(),
            default_publish_auth_modes: api_key.clone(),
            default_subscribe_auth_modes: api_key,
            log_config: None,
        },
        namespaces: (1..=namespaces)
            .map(|i| {
                let name = format!("ns{i:02}");
                let ns = NamespaceConfig {
                    name: name.clone(),
                    publish_auth_modes: BTreeSet::new(),
                    subscribe_auth_modes: BTreeSet::new(),
                    code_handlers: None,
                    handler_configs: Default::default(),
                    tags: Tags::new(),
                };
                (name, ns)
            })
            .collect(),
        keys: (1..=keys)
            .map(|i| {
                let name = format!("key{i}");
                let key = KeyConfig {
                    name: name.clone(),
                    description: Some("bench".into()),
                    expiry: KeyExpiry::Validity {
                        seconds: 30 * 86_400,
                    },
                };
                (name, key)
            })
            .collect(),
    }
}

fn median(mut samples: Vec<(Duration, Calls)>) -> Measured {
    samples.sort_by_key(|(d, _)| *d);
    let Some((time, calls)) = samples.get(samples.len() / 2).cloned() else {
        return Measured {
            millis: 0.0,
            calls: 0,
            by_operation: Calls::new(),
        };
    };
    Measured {
        millis: time.as_secs_f64() * 1000.0,
        calls: calls.values().sum(),
        by_operation: calls,
    }
}

fn render(r: &BenchReport, args: &BenchApplyArgs) -> String {
    let row = |label: &str, m: &Measured| {
        let ops = m
            .by_operation
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "  {label:<34} {:>8.0} ms  {:>4}  {ops}\n",
            m.millis, m.calls
        )
    };
    let mut out = format!(
        "evctl bench apply: {} namespaces, {} keys, emulator latency {} ms per call, median of {} run(s)\n\n  {:<34} {:>11}  {:>4}  {}\n",
        r.namespaces, r.keys, r.latency_ms, r.runs, "", "time", "calls", "by operation"
    );
    out.push_str(&row("evctl plan (new API)", &r.evctl_plan));
    out.push_str(&row(
        &format!("evctl apply (concurrency {})", r.concurrency),
        &r.evctl_apply,
    ));
    out.push_str(&row("evctl plan + apply", &r.evctl_total));
    out.push_str(&row("sequential script (same calls)", &r.sequential_script));
    out.push_str(&row("evctl plan (no changes)", &r.evctl_plan_no_changes));
    out.push_str(&format!(
        "\n  evctl is {:.1}x faster than the sequential script (plan + apply vs. script).\n\
         \x20 Reproduce: cargo run --locked -- bench apply --latency {} --namespaces {} --keys {} --runs {}\n",
        r.speedup,
        humantime::format_duration(args.latency),
        r.namespaces,
        r.keys,
        r.runs
    ));
    out
}

/// The emulator's call counters (`/_emulator/stats`).
struct Stats {
    url: String,
    http: reqwest::Client,
}

impl Stats {
    fn new(endpoint: &str) -> Stats {
        Stats {
            url: format!("{endpoint}/_emulator/stats"),
            http: reqwest::Client::new(),
        }
    }

    async fn reset(&self) -> anyhow::Result<()> {
        self.http
            .delete(&self.url)
            .send()
            .await?
            .error_for_status()
            .context("could not reset the emulator's stats")?;
        Ok(())
    }

    async fn get(&self) -> anyhow::Result<Calls> {
        #[derive(serde::Deserialize)]
        struct Snapshot {
            operations: Calls,
        }
        let snapshot: Snapshot = self
            .http
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
            .context("could not read the emulator's stats")?;
        Ok(snapshot.operations)
    }
}
