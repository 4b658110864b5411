//! An in-memory [`ControlPlane`] for the engine's unit tests only (everything else goes through
//! the SDK against the emulator). It behaves like AppSync where the engine cares: listings leave
//! out handler code, keys get ids and hour-rounded expiry, and faults can be scripted per
//! operation (an error before the change, or a lost answer after it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use crate::control::{ControlError, ControlPlane, ErrorKind, ListedApi, Target};
use crate::model::{
    ApiConfig, Dns, NamespaceConfig, OWNER_TAG_KEY, OWNER_TAG_VALUE, ObservedApi, ObservedKey,
    ObservedNamespace, Secret, Tags, parse_key_description,
};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Fail with this kind; nothing changes.
    Fail(ErrorKind),
    /// Make the change, then lose the answer.
    LostAnswer,
}

#[derive(Debug, Default)]
struct Api {
    observed: Option<ObservedApi>,
    namespaces: BTreeMap<String, ObservedNamespace>,
    keys: Vec<ObservedKey>,
}

#[derive(Debug, Default)]
struct State {
    apis: BTreeMap<String, Api>,
    next: u64,
}

#[derive(Debug, Default)]
pub struct Memory {
    state: Mutex<State>,
    faults: Mutex<HashMap<&'static str, VecDeque<Fault>>>,
    calls: Mutex<Vec<&'static str>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn not_found(op: &'static str, what: &str) -> ControlError {
    ControlError::new(ErrorKind::NotFound, op, format!("{what} not found"))
}

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    /// The next calls of `op` meet these faults, in order.
    pub fn script(&self, op: &'static str, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.faults).entry(op).or_default().extend(faults);
    }

    /// Every call so far, in order.
    pub fn call_log(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    /// How many times `op` was called.
    pub fn calls(&self, op: &str) -> usize {
        lock(&self.calls).iter().filter(|c| **c == op).count()
    }

    /// Adds an API as if someone made it by hand (no ownership tag unless `tags` has it).
    pub fn insert_api(&self, config: &ApiConfig, tags: &Tags) -> String {
        let mut s = lock(&self.state);
        let api = new_api(&mut s, config, tags);
        let id = api.id.clone();
        s.apis.insert(
            id.clone(),
            Api {
                observed: Some(api),
                ..Api::default()
            },
        );
        id
    }

    /// Adds a key by hand (e.g. without an evctl name).
    pub fn insert_key(&self, api_id: &str, description: &str, expires: i64) -> Secret {
        let mut s = lock(&self.state);
        s.next += 1;
        let id = Secret::new(format!("da2-memory{:021}", s.next));
        let (name, description) = parse_key_description(Some(description));
        if let Some(api) = s.apis.get_mut(api_id) {
            api.keys.push(ObservedKey {
                id: id.clone(),
                name,
                description,
                expires,
                deletes: expires + 60 * 86_400,
            });
        }
        id
    }

    pub fn api_count(&self, name: &str) -> usize {
        lock(&self.state)
            .apis
            .values()
            .filter(|a| a.observed.as_ref().is_some_and(|o| o.config.name == name))
            .count()
    }

    pub fn key_count(&self, api_id: &str) -> usize {
        lock(&self.state)
            .apis
            .get(api_id)
            .map_or(0, |a| a.keys.len())
    }

    pub fn namespace_names(&self, api_id: &str) -> Vec<String> {
        lock(&self.state)
            .apis
            .get(api_id)
            .map(|a| a.namespaces.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Records the call and applies a scripted fault: `Err` now, or `Ok(true)` when the answer
    /// must be lost after the change.
    fn enter(&self, op: &'static str) -> Result<bool, ControlError> {
        lock(&self.calls).push(op);
        match lock(&self.faults).get_mut(op).and_then(VecDeque::pop_front) {
            Some(Fault::Fail(kind)) => Err(ControlError::new(kind, op, "injected fault")),
            Some(Fault::LostAnswer) => Ok(true),
            None => Ok(false),
        }
    }

    fn answer<T>(op: &'static str, lost: bool, value: T) -> Result<T, ControlError> {
        if lost {
            Err(ControlError::new(
                ErrorKind::NoResponse,
                op,
                "connection closed before the answer",
            ))
        } else {
            Ok(value)
        }
    }
}

fn new_api(s: &mut State, config: &ApiConfig, tags: &Tags) -> ObservedApi {
    s.next += 1;
    let id = format!("{:026}", s.next);
    let mut c = config.clone();
    c.tags = tags.clone();
    c.normalise();
    ObservedApi {
        arn: format!("arn:aws:appsync:us-east-1:123456789012:apis/{id}"),
        dns: Some(Dns {
            http: format!("{id}.local:1"),
            realtime: format!("{id}.local:1"),
        }),
        created: Some(0),
        owned: tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(OWNER_TAG_VALUE),
        all_tags: tags.clone(),
        config: c,
        id,
    }
}

impl ControlPlane for Memory {
    fn target(&self) -> Target {
        Target {
            endpoint: Some("memory://".into()),
            region: "us-east-1".into(),
        }
    }

    async fn list_apis(&self) -> Result<Vec<ListedApi>, ControlError> {
        self.enter("ListApis")?;
        Ok(lock(&self.state)
            .apis
            .values()
            .filter_map(|a| a.observed.clone())
            .map(|api| ListedApi {
                api,
                complete: true,
            })
            .collect())
    }

    async fn get_api(&self, id: &str) -> Result<ObservedApi, ControlError> {
        self.enter("GetApi")?;
        lock(&self.state)
            .apis
            .get(id)
            .and_then(|a| a.observed.clone())
            .ok_or_else(|| not_found("GetApi", "API"))
    }

    async fn create_api(
        &self,
        config: &ApiConfig,
        tags: &Tags,
    ) -> Result<ObservedApi, ControlError> {
        let lost = self.enter("CreateApi")?;
        let mut s = lock(&self.state);
        let api = new_api(&mut s, config, tags);
        s.apis.insert(
            api.id.clone(),
            Api {
                observed: Some(api.clone()),
                ..Api::default()
            },
        );
        Self::answer("CreateApi", lost, api)
    }

    async fn update_api(&self, id: &str, config: &ApiConfig) -> Result<ObservedApi, ControlError> {
        let lost = self.enter("UpdateApi")?;
        let mut s = lock(&self.state);
        let api = s
            .apis
            .get_mut(id)
            .and_then(|a| a.observed.as_mut())
            .ok_or_else(|| not_found("UpdateApi", "API"))?;
        let tags = std::mem::take(&mut api.config.tags);
        api.config = ApiConfig {
            tags,
            ..config.clone()
        };
        api.config.normalise();
        Self::answer("UpdateApi", lost, api.clone())
    }

    async fn delete_api(&self, id: &str) -> Result<(), ControlError> {
        let lost = self.enter("DeleteApi")?;
        lock(&self.state)
            .apis
            .remove(id)
            .ok_or_else(|| not_found("DeleteApi", "API"))?;
        Self::answer("DeleteApi", lost, ())
    }

    async fn tag_resource(&self, arn: &str, tags: &Tags) -> Result<(), ControlError> {
        let lost = self.enter("TagResource")?;
        let mut s = lock(&self.state);
        for a in s.apis.values_mut() {
            if let Some(api) = a.observed.as_mut().filter(|o| o.arn == arn) {
                api.all_tags.extend(tags.clone());
                api.owned =
                    api.all_tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(OWNER_TAG_VALUE);
                api.config.tags = api.all_tags.clone();
                api.config.tags.remove(OWNER_TAG_KEY);
            }
            for ns in a.namespaces.values_mut().filter(|n| n.arn == arn) {
                ns.config.tags.extend(tags.clone());
            }
        }
        Self::answer("TagResource", lost, ())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), ControlError> {
        let lost = self.enter("UntagResource")?;
        let mut s = lock(&self.state);
        for a in s.apis.values_mut() {
            if let Some(api) = a.observed.as_mut().filter(|o| o.arn == arn) {
                for k in keys {
                    api.all_tags.remove(k);
                    api.config.tags.remove(k);
                }
            }
            for ns in a.namespaces.values_mut().filter(|n| n.arn == arn) {
                for k in keys {
                    ns.config.tags.remove(k);
                }
            }
        }
        Self::answer("UntagResource", lost, ())
    }

    async fn list_namespaces(&self, api_id: &str) -> Result<Vec<ObservedNamespace>, ControlError> {
        self.enter("ListChannelNamespaces")?;
        let s = lock(&self.state);
        let api = s
            .apis
            .get(api_id)
            .ok_or_else(|| not_found("ListChannelNamespaces", "API"))?;
        // Like AppSync: the listing leaves handler code out.
        Ok(api
            .namespaces
            .values()
            .map(|ns| {
                let mut ns = ns.clone();
                ns.config.code_handlers = None;
                ns
            })
            .collect())
    }

    async fn get_namespace(
        &self,
        api_id: &str,
        name: &str,
    ) -> Result<ObservedNamespace, ControlError> {
        self.enter("GetChannelNamespace")?;
        lock(&self.state)
            .apis
            .get(api_id)
            .and_then(|a| a.namespaces.get(name).cloned())
            .ok_or_else(|| not_found("GetChannelNamespace", "namespace"))
    }

    async fn create_namespace(
        &self,
        api_id: &str,
        config: &NamespaceConfig,
    ) -> Result<ObservedNamespace, ControlError> {
        let lost = self.enter("CreateChannelNamespace")?;
        let mut s = lock(&self.state);
        let api = s
            .apis
            .get_mut(api_id)
            .ok_or_else(|| not_found("CreateChannelNamespace", "API"))?;
        if api.namespaces.contains_key(&config.name) {
            return Err(ControlError::new(
                ErrorKind::Conflict,
                "CreateChannelNamespace",
                "namespace already exists",
            ));
        }
        let ns = ObservedNamespace {
            arn: format!(
                "arn:aws:appsync:us-east-1:123456789012:apis/{api_id}/channelNamespace/{}",
                config.name
            ),
            config: config.clone(),
        };
        api.namespaces.insert(config.name.clone(), ns.clone());
        Self::answer("CreateChannelNamespace", lost, ns)
    }

    async fn update_namespace(
        &self,
        api_id: &str,
        config: &NamespaceConfig,
    ) -> Result<ObservedNamespace, ControlError> {
        let lost = self.enter("UpdateChannelNamespace")?;
        let mut s = lock(&self.state);
        let ns = s
            .apis
            .get_mut(api_id)
            .and_then(|a| a.namespaces.get_mut(&config.name))
            .ok_or_else(|| not_found("UpdateChannelNamespace", "namespace"))?;
        let tags = std::mem::take(&mut ns.config.tags);
        ns.config = NamespaceConfig {
            tags,
            ..config.clone()
        };
        Self::answer("UpdateChannelNamespace", lost, ns.clone())
    }

    async fn delete_namespace(&self, api_id: &str, name: &str) -> Result<(), ControlError> {
        let lost = self.enter("DeleteChannelNamespace")?;
        lock(&self.state)
            .apis
            .get_mut(api_id)
            .and_then(|a| a.namespaces.remove(name))
            .ok_or_else(|| not_found("DeleteChannelNamespace", "namespace"))?;
        Self::answer("DeleteChannelNamespace", lost, ())
    }

    async fn list_keys(&self, api_id: &str) -> Result<Vec<ObservedKey>, ControlError> {
        self.enter("ListApiKeys")?;
        lock(&self.state)
            .apis
            .get(api_id)
            .map(|a| a.keys.clone())
            .ok_or_else(|| not_found("ListApiKeys", "API"))
    }

    async fn create_key(
        &self,
        api_id: &str,
        description: &str,
        expires: i64,
    ) -> Result<ObservedKey, ControlError> {
        let lost = self.enter("CreateApiKey")?;
        let mut s = lock(&self.state);
        s.next += 1;
        let id = Secret::new(format!("da2-memory{:021}", s.next));
        let api = s
            .apis
            .get_mut(api_id)
            .ok_or_else(|| not_found("CreateApiKey", "API"))?;
        let (name, description) = parse_key_description(Some(description));
        let expires = expires - expires.rem_euclid(3600);
        let key = ObservedKey {
            id,
            name,
            description,
            expires,
            deletes: expires + 60 * 86_400,
        };
        api.keys.push(key.clone());
        Self::answer("CreateApiKey", lost, key)
    }

    async fn update_key(
        &self,
        api_id: &str,
        key: &Secret,
        description: Option<&str>,
        expires: Option<i64>,
    ) -> Result<ObservedKey, ControlError> {
        let lost = self.enter("UpdateApiKey")?;
        let mut s = lock(&self.state);
        let k = s
            .apis
            .get_mut(api_id)
            .and_then(|a| a.keys.iter_mut().find(|k| &k.id == key))
            .ok_or_else(|| not_found("UpdateApiKey", "key"))?;
        if let Some(d) = description {
            let (name, description) = parse_key_description(Some(d));
            k.name = name;
            k.description = description;
        }
        if let Some(e) = expires {
            k.expires = e - e.rem_euclid(3600);
            k.deletes = k.expires + 60 * 86_400;
        }
        Self::answer("UpdateApiKey", lost, k.clone())
    }

    async fn delete_key(&self, api_id: &str, key: &Secret) -> Result<(), ControlError> {
        let lost = self.enter("DeleteApiKey")?;
        let mut s = lock(&self.state);
        let api = s
            .apis
            .get_mut(api_id)
            .ok_or_else(|| not_found("DeleteApiKey", "API"))?;
        let before = api.keys.len();
        api.keys.retain(|k| &k.id != key);
        if api.keys.len() == before {
            return Err(not_found("DeleteApiKey", "key"));
        }
        Self::answer("DeleteApiKey", lost, ())
    }
}
