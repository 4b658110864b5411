#![allow(clippy::unwrap_used)]
use std::sync::Arc;
use std::time::Duration;

use crate::emulator::dataplane::{ApiAuth, DataPlane, Directory, NamespaceInfo, Settings as DpSettings, router};
use crate::model::{AuthModes, AuthProvider, AuthType, Dns, Secret};
use crate::smoke::auth::{Credential, Credentials};
use crate::smoke::check::{Scope, ScopeModes, Settings, Target, run};
use crate::smoke::client::Endpoints;

struct Dir;
impl Directory for Dir {
    fn api(&self, _id: &str) -> Option<ApiAuth> {
        let m: AuthModes = [AuthType::ApiKey, AuthType::AwsIam].into_iter().collect();
        Some(ApiAuth {
            providers: vec![
                AuthProvider { auth_type: AuthType::ApiKey, cognito_config: None, openid_connect_config: None, lambda_authorizer_config: None },
                AuthProvider { auth_type: AuthType::AwsIam, cognito_config: None, openid_connect_config: None, lambda_authorizer_config: None },
            ],
            connection_modes: m.clone(),
            default_publish_modes: m.clone(),
            default_subscribe_modes: m,
        })
    }
    fn namespace(&self, _id: &str, name: &str) -> Option<NamespaceInfo> {
        match name {
            "default" => Some(NamespaceInfo::default()),
            "drop" => Some(NamespaceInfo { tags: [("evctl:emulator-fault".to_string(), "drop-events".to_string())].into(), ..Default::default() }),
            _ => None,
        }
    }
    fn api_key_expires(&self, _id: &str, key: &str) -> Option<i64> {
        (key == "da2-good").then_some(i64::MAX / 2)
    }
}

#[tokio::test]
async fn scratch_against_the_real_data_plane() {
    let dp = DataPlane::new(Arc::new(Dir), DpSettings::default());
    let app = router(dp, "api1");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { use axum::serve::ListenerExt; let listener = listener.tap_io(|tcp| { let _ = tcp.set_nodelay(true); }); axum::serve(listener, app).await.unwrap() });
    let host = addr.to_string();
    let m: AuthModes = [AuthType::ApiKey, AuthType::AwsIam].into_iter().collect();
    let modes = ScopeModes { publish: m.clone(), subscribe: m.clone() };
    let target = Target {
        api_name: "demo".into(),
        api_id: "api1".into(),
        endpoints: Endpoints::new(&Dns { http: host.clone(), realtime: host }, false),
        connection_modes: m,
        scopes: vec![
            Scope { namespace: "default".into(), base: "/default/smoke".into(), modes: Some(modes.clone()) },
            Scope { namespace: "drop".into(), base: "/drop".into(), modes: Some(modes) },
        ],
    };
    let mut creds = Credentials::default();
    creds.set(AuthType::ApiKey, Ok(Credential::ApiKey { name: "k".into(), key: Secret::new("da2-good") }));
    creds.set(AuthType::AwsIam, Ok(Credential::Iam { credentials: crate::signing::Credentials::new("test", "test", None), region: "us-east-1".into() }));
    let settings = Settings { timeout: Duration::from_secs(1), wait: Duration::from_secs(2), tls: crate::smoke::tls::client_config(None).unwrap(), run_id: "smoke-x".into() };
    let t0 = std::time::Instant::now();
    let rows = run(&target, &creds, &settings, &crate::output::Printer::plain()).await.unwrap();
    let report = crate::smoke::Report::new(crate::smoke::report::ApiRef { name: "demo".into(), id: "api1".into() }, "smoke-x".into(), t0.elapsed(), rows);
    println!("{}", crate::smoke::report::render_text(&report));
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
