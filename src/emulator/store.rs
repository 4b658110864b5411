//! The emulator's data: Event APIs with their channel namespaces, API keys and tags, and every
//! control-plane operation on them as AppSync defines it (ids, ARNs, timestamps, key expiry,
//! quotas, pagination, cascade delete).
//!
//! Pure and synchronous: callers pass the current time and a freshly bound data-plane address,
//! and get a value or an [`ApiError`]. Sockets, persistence and HTTP live elsewhere, so every
//! rule here is unit-testable without them. The whole store serialises to the state file.

use std::collections::BTreeMap;

use base64::Engine as _;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorKind};
use super::shapes::{
    Api, ApiKey, ApiKeyRequest, ChannelNamespace, CreateApiRequest, CreateChannelNamespaceRequest,
    TagMap, UpdateApiRequest, UpdateChannelNamespaceRequest,
};
use super::validate;

/// Event APIs per account and region.
pub const MAX_APIS: usize = 50;
/// Channel namespaces per API.
pub const MAX_NAMESPACES: usize = 50;
/// API keys per API.
pub const MAX_KEYS: usize = 50;
/// Largest page (and the page size when `maxResults` is absent or 0).
pub const MAX_PAGE: i64 = 25;

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
/// A key's validity when CreateApiKey gives no `expires`.
pub const DEFAULT_KEY_VALIDITY: i64 = 7 * DAY;
/// Shortest and longest validity CreateApiKey/UpdateApiKey accept.
pub const MIN_KEY_VALIDITY: i64 = DAY;
pub const MAX_KEY_VALIDITY: i64 = 365 * DAY;
/// Expired keys are kept (and can be extended) this long before AppSync deletes them.
pub const KEY_RETENTION: i64 = 60 * DAY;

/// Length of API ids and of the random part of key ids.
const ID_LEN: usize = 26;
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A stored item with its creation sequence number (the list order and pagination position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<T> {
    pub seq: u64,
    pub item: T,
}

/// An API and everything that belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRecord {
    pub seq: u64,
    pub api: Api,
    /// The data-plane port (also in `api.dns`), re-bound on restart.
    pub port: u16,
    pub namespaces: Vec<Entry<ChannelNamespace>>,
    pub keys: Vec<Entry<ApiKey>>,
}

impl ApiRecord {
    /// The namespace called `name`, if any.
    pub fn namespace(&self, name: &str) -> Option<&ChannelNamespace> {
        self.namespaces
            .iter()
            .map(|e| &e.item)
            .find(|ns| ns.name == name)
    }

    /// Keys that authorise requests at `now` (not yet expired).
    pub fn valid_keys(&self, now: i64) -> impl Iterator<Item = &ApiKey> {
        self.keys
            .iter()
            .map(|e| &e.item)
            .filter(move |k| k.expires > now)
    }
}

/// Where the identity of the emulated account comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub region: String,
    pub account_id: String,
}

/// All state of the emulated control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub account: Account,
    next_seq: u64,
    apis: Vec<ApiRecord>,
}

/// `maxResults` and `nextToken` of a List call.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

/// One page of a List call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// What a tag ARN points at.
enum Tagged {
    Api(String),
    Namespace(String, String),
}

fn random_id() -> String {
    let mut rng = rand::rng();
    (0..ID_LEN)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

/// Rounds epoch seconds down to the hour, as AppSync stores key expiry.
pub fn round_down_to_hour(epoch_seconds: i64) -> i64 {
    epoch_seconds - epoch_seconds.rem_euclid(HOUR)
}

fn api_not_found(api_id: &str) -> ApiError {
    ApiError::not_found(format!("API {api_id} not found."))
}

/// Turns an empty auth-mode list into "inherit the API defaults", as a list is either a set of
/// modes or absent.
fn modes_or_inherit(
    modes: Option<Vec<super::shapes::AuthMode>>,
) -> Option<Vec<super::shapes::AuthMode>> {
    modes.filter(|m| !m.is_empty())
}

fn paginate<T: Clone>(
    scope: &str,
    items: impl Iterator<Item = (u64, T)>,
    page: &PageRequest,
) -> Result<Page<T>, ApiError> {
    let limit = match page.max_results {
        None | Some(0) => MAX_PAGE,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
                 constraint: Member must have value between 0 and {MAX_PAGE}, inclusive"
            )));
        }
    };
    let start = match &page.next_token {
        None => 0,
        Some(token) => decode_token(scope, token)?,
    };
    let mut rest = items.filter(|(seq, _)| *seq >= start).peekable();
    let mut out = Vec::new();
    while out.len() < limit as usize {
        match rest.next() {
            Some((_, item)) => out.push(item),
            None => break,
        }
    }
    let next_token = rest.peek().map(|(seq, _)| encode_token(scope, *seq));
    Ok(Page {
        items: out,
        next_token,
    })
}

fn encode_token(scope: &str, seq: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1|{seq}|{scope}"))
}

fn decode_token(scope: &str, token: &str) -> Result<u64, ApiError> {
    let invalid = || ApiError::bad_request("Invalid pagination token.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let mut parts = raw.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(seq), Some(s)) if s == scope => seq.parse().map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

impl Store {
    pub fn new(account: Account) -> Store {
        Store {
            account,
            next_seq: 1,
            apis: Vec::new(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn arn_prefix(&self) -> String {
        format!(
            "arn:aws:appsync:{}:{}:apis/",
            self.account.region, self.account.account_id
        )
    }

    fn api_arn(&self, api_id: &str) -> String {
        format!("{}{api_id}", self.arn_prefix())
    }

    /// All APIs, in creation order.
    pub fn records(&self) -> impl Iterator<Item = &ApiRecord> {
        self.apis.iter()
    }

    pub fn record(&self, api_id: &str) -> Result<&ApiRecord, ApiError> {
        self.apis
            .iter()
            .find(|r| r.api.api_id == api_id)
            .ok_or_else(|| api_not_found(api_id))
    }

    fn record_mut(&mut self, api_id: &str) -> Result<&mut ApiRecord, ApiError> {
        self.apis
            .iter_mut()
            .find(|r| r.api.api_id == api_id)
            .ok_or_else(|| api_not_found(api_id))
    }

    /// Points an API at a new data-plane address (after a restart found its port taken).
    pub fn set_data_plane(&mut self, api_id: &str, host: &str, port: u16) -> Result<(), ApiError> {
        let record = self.record_mut(api_id)?;
        record.port = port;
        record.api.dns = dns(host, port);
        Ok(())
    }

    // ---- APIs ---------------------------------------------------------------------------

    /// Checks a CreateApi request without creating anything (so no port is bound for a bad
    /// request).
    pub fn check_create_api(&self, req: &CreateApiRequest) -> Result<(), ApiError> {
        let name = validate::required(req.name.as_deref(), "name")?;
        validate::api_name(name)?;
        if let Some(contact) = &req.owner_contact {
            validate::owner_contact(contact)?;
        }
        if let Some(tags) = &req.tags {
            validate::tags(tags, true)?;
        }
        let config = validate::required(req.event_config.as_ref(), "eventConfig")?;
        validate::event_config(config)?;
        if self.apis.len() >= MAX_APIS {
            return Err(ApiError::new(
                ErrorKind::ServiceQuotaExceeded,
                format!("You have reached the maximum of {MAX_APIS} Event APIs in this region."),
            ));
        }
        Ok(())
    }

    /// CreateApi. `host`/`port` is the data-plane listener already bound for it.
    pub fn create_api(
        &mut self,
        req: CreateApiRequest,
        host: &str,
        port: u16,
        now: i64,
    ) -> Result<Api, ApiError> {
        self.check_create_api(&req)?;
        let (Some(name), Some(event_config)) = (req.name, req.event_config) else {
            return Err(ApiError::internal("validated request lost a member"));
        };
        let api_id = loop {
            let id = random_id();
            if self.record(&id).is_err() {
                break id;
            }
        };
        let api = Api {
            api_arn: self.api_arn(&api_id),
            api_id,
            name,
            owner_contact: req.owner_contact,
            tags: req.tags.unwrap_or_default(),
            dns: dns(host, port),
            created: now,
            xray_enabled: false,
            event_config,
        };
        let seq = self.next_seq();
        self.apis.push(ApiRecord {
            seq,
            api: api.clone(),
            port,
            namespaces: Vec::new(),
            keys: Vec::new(),
        });
        Ok(api)
    }

    pub fn get_api(&self, api_id: &str) -> Result<Api, ApiError> {
        self.record(api_id).map(|r| r.api.clone())
    }

    pub fn list_apis(&self, page: &PageRequest) -> Result<Page<Api>, ApiError> {
        paginate(
            "apis",
            self.apis.iter().map(|r| (r.seq, r.api.clone())),
            page,
        )
    }

    /// UpdateApi replaces the name, owner contact and event config (an absent `ownerContact`
    /// or `logConfig` is cleared, as AppSync's Update operations replace the configuration).
    pub fn update_api(&mut self, api_id: &str, req: UpdateApiRequest) -> Result<Api, ApiError> {
        let name = validate::required(req.name, "name")?;
        validate::api_name(&name)?;
        if let Some(contact) = &req.owner_contact {
            validate::owner_contact(contact)?;
        }
        let config = validate::required(req.event_config, "eventConfig")?;
        validate::event_config(&config)?;
        let record = self.record_mut(api_id)?;
        // Namespaces may not be left naming a provider the API no longer has.
        let configured = validate::provider_types(&config);
        for ns in record.namespaces.iter().map(|e| &e.item) {
            validate::namespace_modes(
                ns.publish_auth_modes.as_deref(),
                ns.subscribe_auth_modes.as_deref(),
                &configured,
            )
            .map_err(|e| {
                ApiError::bad_request(format!("Channel namespace {}: {}", ns.name, e.message))
            })?;
        }
        record.api.name = name;
        record.api.owner_contact = req.owner_contact;
        record.api.event_config = config;
        Ok(record.api.clone())
    }

    /// DeleteApi: the API with its namespaces, keys and tags. Returns the removed record so the
    /// caller can close its data-plane listener.
    pub fn delete_api(&mut self, api_id: &str) -> Result<ApiRecord, ApiError> {
        let index = self
            .apis
            .iter()
            .position(|r| r.api.api_id == api_id)
            .ok_or_else(|| api_not_found(api_id))?;
        Ok(self.apis.remove(index))
    }

    // ---- channel namespaces ------------------------------------------------------------

    fn namespace_arn(&self, api_id: &str, name: &str) -> String {
        format!("{}/channelNamespace/{name}", self.api_arn(api_id))
    }

    pub fn create_namespace(
        &mut self,
        api_id: &str,
        req: CreateChannelNamespaceRequest,
        now: i64,
    ) -> Result<ChannelNamespace, ApiError> {
        let name = validate::required(req.name, "name")?;
        validate::namespace_name(&name)?;
        if let Some(tags) = &req.tags {
            validate::tags(tags, true)?;
        }
        validate::handlers(req.code_handlers.as_deref(), req.handler_configs.as_ref())?;
        let arn = self.namespace_arn(api_id, &name);
        let seq = self.next_seq;
        let record = self.record_mut(api_id)?;
        let configured = validate::provider_types(&record.api.event_config);
        validate::namespace_modes(
            req.publish_auth_modes.as_deref(),
            req.subscribe_auth_modes.as_deref(),
            &configured,
        )?;
        if record.namespace(&name).is_some() {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("A channel namespace named {name} already exists in API {api_id}."),
            ));
        }
        if record.namespaces.len() >= MAX_NAMESPACES {
            return Err(ApiError::new(
                ErrorKind::ServiceQuotaExceeded,
                format!(
                    "API {api_id} already has the maximum of {MAX_NAMESPACES} channel namespaces."
                ),
            ));
        }
        let ns = ChannelNamespace {
            api_id: api_id.to_string(),
            name,
            subscribe_auth_modes: modes_or_inherit(req.subscribe_auth_modes),
            publish_auth_modes: modes_or_inherit(req.publish_auth_modes),
            code_handlers: req.code_handlers,
            tags: req.tags.unwrap_or_default(),
            channel_namespace_arn: arn,
            created: now,
            last_modified: now,
            handler_configs: req.handler_configs,
        };
        record.namespaces.push(Entry {
            seq,
            item: ns.clone(),
        });
        self.next_seq += 1;
        Ok(ns)
    }

    pub fn get_namespace(&self, api_id: &str, name: &str) -> Result<ChannelNamespace, ApiError> {
        self.record(api_id)?
            .namespace(name)
            .cloned()
            .ok_or_else(|| namespace_not_found(api_id, name))
    }

    /// ListChannelNamespaces: like Get, without `codeHandlers` (AppSync leaves the code out of
    /// lists; Get returns it).
    pub fn list_namespaces(
        &self,
        api_id: &str,
        page: &PageRequest,
    ) -> Result<Page<ChannelNamespace>, ApiError> {
        let record = self.record(api_id)?;
        paginate(
            &format!("namespaces|{api_id}"),
            record.namespaces.iter().map(|e| {
                let mut ns = e.item.clone();
                ns.code_handlers = None;
                (e.seq, ns)
            }),
            page,
        )
    }

    /// UpdateChannelNamespace replaces the auth modes, code and handler configs (absent members
    /// are cleared: auth modes then inherit the API defaults).
    pub fn update_namespace(
        &mut self,
        api_id: &str,
        name: &str,
        req: UpdateChannelNamespaceRequest,
        now: i64,
    ) -> Result<ChannelNamespace, ApiError> {
        validate::handlers(req.code_handlers.as_deref(), req.handler_configs.as_ref())?;
        let record = self.record_mut(api_id)?;
        let configured = validate::provider_types(&record.api.event_config);
        validate::namespace_modes(
            req.publish_auth_modes.as_deref(),
            req.subscribe_auth_modes.as_deref(),
            &configured,
        )?;
        let ns = record
            .namespaces
            .iter_mut()
            .map(|e| &mut e.item)
            .find(|ns| ns.name == name)
            .ok_or_else(|| namespace_not_found(api_id, name))?;
        ns.publish_auth_modes = modes_or_inherit(req.publish_auth_modes);
        ns.subscribe_auth_modes = modes_or_inherit(req.subscribe_auth_modes);
        ns.code_handlers = req.code_handlers;
        ns.handler_configs = req.handler_configs;
        ns.last_modified = now;
        Ok(ns.clone())
    }

    pub fn delete_namespace(&mut self, api_id: &str, name: &str) -> Result<(), ApiError> {
        let record = self.record_mut(api_id)?;
        let before = record.namespaces.len();
        record.namespaces.retain(|e| e.item.name != name);
        if record.namespaces.len() == before {
            return Err(namespace_not_found(api_id, name));
        }
        Ok(())
    }

    // ---- API keys -----------------------------------------------------------------------

    /// Drops keys whose `deletes` time has passed, as AppSync does on its own.
    pub fn purge_deleted_keys(&mut self, now: i64) {
        for record in &mut self.apis {
            record.keys.retain(|e| e.item.deletes > now);
        }
    }

    pub fn create_key(
        &mut self,
        api_id: &str,
        req: ApiKeyRequest,
        now: i64,
    ) -> Result<ApiKey, ApiError> {
        self.purge_deleted_keys(now);
        let seq = self.next_seq;
        let record = self.record_mut(api_id)?;
        let expires = key_expiry(req.expires, now)?.unwrap_or(now + DEFAULT_KEY_VALIDITY);
        if record.keys.len() >= MAX_KEYS {
            return Err(ApiError::new(
                ErrorKind::ApiKeyLimitExceeded,
                format!("API {api_id} already has the maximum of {MAX_KEYS} API keys."),
            ));
        }
        let id = loop {
            let id = format!("da2-{}", random_id());
            if !record.keys.iter().any(|e| e.item.id == id) {
                break id;
            }
        };
        let expires = round_down_to_hour(expires);
        let key = ApiKey {
            id,
            description: req.description,
            expires,
            deletes: expires + KEY_RETENTION,
        };
        record.keys.push(Entry {
            seq,
            item: key.clone(),
        });
        self.next_seq += 1;
        Ok(key)
    }

    /// ListApiKeys: every key not yet past its delete time (expired keys included, as AppSync
    /// lists them until it deletes them).
    pub fn list_keys(
        &self,
        api_id: &str,
        page: &PageRequest,
        now: i64,
    ) -> Result<Page<ApiKey>, ApiError> {
        let record = self.record(api_id)?;
        paginate(
            &format!("keys|{api_id}"),
            record
                .keys
                .iter()
                .filter(|e| e.item.deletes > now)
                .map(|e| (e.seq, e.item.clone())),
            page,
        )
    }

    /// UpdateApiKey: a given `description` replaces the old one, a given `expires` extends or
    /// shortens the key (checked against the update time); absent members are kept.
    pub fn update_key(
        &mut self,
        api_id: &str,
        key_id: &str,
        req: ApiKeyRequest,
        now: i64,
    ) -> Result<ApiKey, ApiError> {
        self.purge_deleted_keys(now);
        let record = self.record_mut(api_id)?;
        let key = record
            .keys
            .iter_mut()
            .map(|e| &mut e.item)
            .find(|k| k.id == key_id)
            .ok_or_else(|| key_not_found(api_id))?;
        if let Some(expires) = key_expiry(req.expires, now)? {
            key.expires = round_down_to_hour(expires);
            key.deletes = key.expires + KEY_RETENTION;
        }
        if req.description.is_some() {
            key.description = req.description;
        }
        Ok(key.clone())
    }

    pub fn delete_key(&mut self, api_id: &str, key_id: &str, now: i64) -> Result<(), ApiError> {
        self.purge_deleted_keys(now);
        let record = self.record_mut(api_id)?;
        let before = record.keys.len();
        record.keys.retain(|e| e.item.id != key_id);
        if record.keys.len() == before {
            return Err(key_not_found(api_id));
        }
        Ok(())
    }

    // ---- tags ---------------------------------------------------------------------------

    /// Resolves a (decoded) resource ARN: an API ARN, or a channel-namespace ARN.
    fn tagged(&self, arn: &str) -> Result<Tagged, ApiError> {
        let invalid = || {
            ApiError::bad_request(format!(
                "1 validation error detected: Value '{arn}' at 'resourceArn' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: \
                 ^arn:aws:appsync:[A-Za-z0-9_/.-]{{0,63}}:\\d{{12}}:apis/[0-9A-Za-z_-]{{26}}$"
            ))
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [arn_, aws, service, region, account, resource] = parts.as_slice() else {
            return Err(invalid());
        };
        let valid_region = region.len() <= 63
            && region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_/.-".contains(c));
        if *arn_ != "arn"
            || *aws != "aws"
            || *service != "appsync"
            || !valid_region
            || account.len() != 12
            || !account.chars().all(|c| c.is_ascii_digit())
        {
            return Err(invalid());
        }
        let segments: Vec<&str> = resource.split('/').collect();
        let target = match segments.as_slice() {
            ["apis", id] => Tagged::Api(id.to_string()),
            ["apis", id, "channelNamespace", name] => {
                Tagged::Namespace(id.to_string(), name.to_string())
            }
            _ => return Err(invalid()),
        };
        let id = match &target {
            Tagged::Api(id) | Tagged::Namespace(id, _) => id,
        };
        if id.len() != ID_LEN
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid());
        }
        if *region != self.account.region || *account != self.account.account_id {
            return Err(ApiError::not_found(format!("Resource {arn} not found.")));
        }
        Ok(target)
    }

    /// Finds the tagged resource: the API's index and, for a namespace ARN, the namespace's.
    fn locate(&self, arn: &str) -> Result<(usize, Option<usize>), ApiError> {
        let (api_id, namespace) = match self.tagged(arn)? {
            Tagged::Api(id) => (id, None),
            Tagged::Namespace(id, name) => (id, Some(name)),
        };
        let api = self
            .apis
            .iter()
            .position(|r| r.api.api_id == api_id)
            .ok_or_else(|| api_not_found(&api_id))?;
        let Some(name) = namespace else {
            return Ok((api, None));
        };
        let ns = self.apis[api]
            .namespaces
            .iter()
            .position(|e| e.item.name == name)
            .ok_or_else(|| namespace_not_found(&api_id, &name))?;
        Ok((api, Some(ns)))
    }

    fn tags_mut(&mut self, arn: &str) -> Result<&mut TagMap, ApiError> {
        let (api, ns) = self.locate(arn)?;
        let record = &mut self.apis[api];
        Ok(match ns {
            None => &mut record.api.tags,
            Some(ns) => &mut record.namespaces[ns].item.tags,
        })
    }

    pub fn tag_resource(&mut self, arn: &str, tags: Option<TagMap>) -> Result<(), ApiError> {
        let tags = validate::required(tags, "tags")?;
        validate::tags(&tags, false)?;
        let current = self.tags_mut(arn)?;
        let merged = tags.keys().filter(|k| !current.contains_key(*k)).count() + current.len();
        if merged > validate::MAX_TAGS {
            return Err(validate::too_many_tags(merged));
        }
        current.extend(tags);
        Ok(())
    }

    pub fn untag_resource(&mut self, arn: &str, keys: &[String]) -> Result<(), ApiError> {
        validate::tag_keys(keys)?;
        let current = self.tags_mut(arn)?;
        for key in keys {
            current.remove(key);
        }
        Ok(())
    }

    pub fn list_tags(&self, arn: &str) -> Result<TagMap, ApiError> {
        let (api, ns) = self.locate(arn)?;
        let record = &self.apis[api];
        Ok(match ns {
            None => record.api.tags.clone(),
            Some(ns) => record.namespaces[ns].item.tags.clone(),
        })
    }
}

/// The `dns` map of an API served at `host:port`.
pub fn dns(host: &str, port: u16) -> BTreeMap<String, String> {
    let address = format!("{host}:{port}");
    BTreeMap::from([
        ("HTTP".to_string(), address.clone()),
        ("REALTIME".to_string(), address),
    ])
}

fn namespace_not_found(api_id: &str, name: &str) -> ApiError {
    ApiError::not_found(format!(
        "Channel namespace {name} not found in API {api_id}."
    ))
}

fn key_not_found(api_id: &str) -> ApiError {
    // The key id is a secret: it stays out of the message.
    ApiError::not_found(format!("API key not found in API {api_id}."))
}

/// Checks a requested `expires` against the 1..365-day window from `now` (before rounding
/// down to the hour, so that "now + 1 day" is accepted).
fn key_expiry(expires: Option<i64>, now: i64) -> Result<Option<i64>, ApiError> {
    let Some(expires) = expires else {
        return Ok(None);
    };
    let validity = expires - now;
    if validity < MIN_KEY_VALIDITY {
        return Err(ApiError::new(
            ErrorKind::ApiKeyValidityOutOfBounds,
            "API key must be valid for a minimum of 1 days.",
        ));
    }
    if validity > MAX_KEY_VALIDITY {
        return Err(ApiError::new(
            ErrorKind::ApiKeyValidityOutOfBounds,
            "API key must be valid for a maximum of 365 days.",
        ));
    }
    Ok(Some(expires))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shapes::{AuthMode, EventConfig};
    use crate::model::{AuthProvider, AuthType};

    const NOW: i64 = 1_767_225_600 + 1234; // 2026-01-01T00:20:34Z

    fn store() -> Store {
        Store::new(Account {
            region: "eu-west-1".into(),
            account_id: "111122223333".into(),
        })
    }

    fn api_key_config() -> EventConfig {
        let modes = vec![AuthMode {
            auth_type: AuthType::ApiKey,
        }];
        EventConfig {
            auth_providers: vec![AuthProvider {
                auth_type: AuthType::ApiKey,
                cognito_config: None,
                openid_connect_config: None,
                lambda_authorizer_config: None,
            }],
            connection_auth_modes: modes.clone(),
            default_publish_auth_modes: modes.clone(),
            default_subscribe_auth_modes: modes,
            log_config: None,
        }
    }

    fn create(store: &mut Store, name: &str) -> Api {
        store
            .create_api(
                CreateApiRequest {
                    name: Some(name.into()),
                    event_config: Some(api_key_config()),
                    ..Default::default()
                },
                "127.0.0.1",
                4600,
                NOW,
            )
            .expect("create api")
    }

    #[test]
    fn apis_get_aws_shaped_ids_and_arns() {
        let mut s = store();
        let api = create(&mut s, "one");
        assert_eq!(api.api_id.len(), 26);
        assert!(
            api.api_id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(
            api.api_arn,
            format!("arn:aws:appsync:eu-west-1:111122223333:apis/{}", api.api_id)
        );
        assert_eq!(api.dns["HTTP"], "127.0.0.1:4600");
        assert_eq!(api.dns["REALTIME"], "127.0.0.1:4600");
        assert_eq!(api.created, NOW);
    }

    #[test]
    fn keys_expire_on_the_hour_and_are_deleted_60_days_later() {
        let mut s = store();
        let api = create(&mut s, "k");
        let key = s
            .create_key(&api.api_id, ApiKeyRequest::default(), NOW)
            .expect("key");
        assert!(key.id.starts_with("da2-") && key.id.len() == 30);
        assert_eq!(key.expires, round_down_to_hour(NOW + 7 * DAY));
        assert_eq!(key.expires % HOUR, 0);
        assert_eq!(key.deletes, key.expires + 60 * DAY);

        let exactly_one_day = ApiKeyRequest {
            expires: Some(NOW + DAY),
            description: None,
        };
        let key = s
            .create_key(&api.api_id, exactly_one_day, NOW)
            .expect("1 day");
        assert_eq!(key.expires, round_down_to_hour(NOW + DAY));

        for bad in [NOW + DAY - 1, NOW + 365 * DAY + 1, NOW - 10] {
            let err = s
                .create_key(
                    &api.api_id,
                    ApiKeyRequest {
                        expires: Some(bad),
                        description: None,
                    },
                    NOW,
                )
                .expect_err("should fail");
            assert_eq!(err.kind, ErrorKind::ApiKeyValidityOutOfBounds);
        }
    }

    #[test]
    fn expired_keys_linger_until_their_delete_time() {
        let mut s = store();
        let api = create(&mut s, "k");
        let key = s
            .create_key(&api.api_id, ApiKeyRequest::default(), NOW)
            .expect("key");
        let listed = |s: &Store, now| {
            s.list_keys(&api.api_id, &PageRequest::default(), now)
                .expect("list")
                .items
                .len()
        };
        assert_eq!(listed(&s, key.expires + 1), 1);
        let record = s.record(&api.api_id).expect("record");
        assert_eq!(record.valid_keys(key.expires + 1).count(), 0);
        assert_eq!(listed(&s, key.deletes), 0);
    }

    #[test]
    fn pages_follow_creation_order_and_survive_deletes() {
        let mut s = store();
        let ids: Vec<String> = (0..7)
            .map(|i| create(&mut s, &format!("a{i}")).api_id)
            .collect();
        let page = PageRequest {
            max_results: Some(3),
            next_token: None,
        };
        let first = s.list_apis(&page).expect("page 1");
        assert_eq!(first.items.len(), 3);
        let token = first.next_token.expect("token");
        // Deleting an item already seen does not shift the next page.
        s.delete_api(&ids[1]).expect("delete");
        let second = s
            .list_apis(&PageRequest {
                max_results: Some(3),
                next_token: Some(token),
            })
            .expect("page 2");
        let names: Vec<&str> = second.items.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a3", "a4", "a5"]);
        let third = s
            .list_apis(&PageRequest {
                max_results: Some(3),
                next_token: second.next_token,
            })
            .expect("page 3");
        assert_eq!(third.items.len(), 1);
        assert_eq!(third.next_token, None);
        // A token from another list is refused.
        let ns_page = s.list_namespaces(
            &ids[0],
            &PageRequest {
                max_results: Some(1),
                next_token: Some(encode_token("apis", 1)),
            },
        );
        assert_eq!(
            ns_page.expect_err("should fail").kind,
            ErrorKind::BadRequest
        );
        for bad in [26, -1] {
            let err = s
                .list_apis(&PageRequest {
                    max_results: Some(bad),
                    next_token: None,
                })
                .expect_err("should fail");
            assert_eq!(err.kind, ErrorKind::BadRequest);
        }
    }

    #[test]
    fn tag_arns_name_apis_and_namespaces_of_this_account() {
        let mut s = store();
        let api = create(&mut s, "t");
        let tags = TagMap::from([("env".to_string(), "dev".to_string())]);
        s.tag_resource(&api.api_arn, Some(tags)).expect("tag");
        assert_eq!(s.list_tags(&api.api_arn).expect("list")["env"], "dev");
        let other_region = api.api_arn.replace("eu-west-1", "us-east-1");
        assert_eq!(
            s.list_tags(&other_region).expect_err("should fail").kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            s.list_tags("arn:aws:s3:::bucket")
                .expect_err("should fail")
                .kind,
            ErrorKind::BadRequest
        );
        s.create_namespace(
            &api.api_id,
            CreateChannelNamespaceRequest {
                name: Some("chat".into()),
                ..Default::default()
            },
            NOW,
        )
        .expect("namespace");
        let ns_arn = format!("{}/channelNamespace/chat", api.api_arn);
        s.tag_resource(
            &ns_arn,
            Some(TagMap::from([("team".to_string(), "a".to_string())])),
        )
        .expect("tag namespace");
        assert_eq!(
            s.get_namespace(&api.api_id, "chat").expect("ns").tags["team"],
            "a"
        );
        s.untag_resource(&ns_arn, &["team".to_string()])
            .expect("untag");
        assert!(s.list_tags(&ns_arn).expect("tags").is_empty());
    }

    #[test]
    fn an_update_may_not_drop_a_provider_a_namespace_uses() {
        let mut s = store();
        let mut config = api_key_config();
        config.auth_providers.push(AuthProvider {
            auth_type: AuthType::AwsIam,
            cognito_config: None,
            openid_connect_config: None,
            lambda_authorizer_config: None,
        });
        let api = s
            .create_api(
                CreateApiRequest {
                    name: Some("two".into()),
                    event_config: Some(config),
                    ..Default::default()
                },
                "127.0.0.1",
                4600,
                NOW,
            )
            .expect("create");
        s.create_namespace(
            &api.api_id,
            CreateChannelNamespaceRequest {
                name: Some("iam".into()),
                publish_auth_modes: Some(vec![AuthMode {
                    auth_type: AuthType::AwsIam,
                }]),
                ..Default::default()
            },
            NOW,
        )
        .expect("namespace");
        let err = s
            .update_api(
                &api.api_id,
                UpdateApiRequest {
                    name: Some("two".into()),
                    owner_contact: None,
                    event_config: Some(api_key_config()),
                },
            )
            .expect_err("IAM is still used by the namespace");
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert!(err.message.contains("iam"), "{}", err.message);
    }

    #[test]
    fn quotas_are_enforced() {
        let mut s = store();
        for i in 0..MAX_APIS {
            create(&mut s, &format!("a{i}"));
        }
        let err = s
            .create_api(
                CreateApiRequest {
                    name: Some("one-too-many".into()),
                    event_config: Some(api_key_config()),
                    ..Default::default()
                },
                "127.0.0.1",
                1,
                NOW,
            )
            .expect_err("should fail");
        assert_eq!(err.kind, ErrorKind::ServiceQuotaExceeded);
    }
}
