//! `Registry`: the proxies by name, their toxics, and starting and
//! stopping their listeners. The HTTP API and the Rust API both go through
//! it, so it holds every rule Toxiproxy's API has (names unique, the real
//! address after binding port 0, reset, populate).
//!
//! One async mutex guards the map, and it is held across starting and
//! stopping a listener: requests are served one at a time, which keeps
//! "disable then enable" free of races and costs nothing at a test rig's
//! request rates. Connections never take the lock.

use super::chain::InstalledToxic;
use super::error::ProxyError;
use super::link::ToxicList;
use super::listener::accept_clients;
use super::toxics::Toxic;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// Where a proxy listens when it is not told: a free port on loopback.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// A proxy as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxySpec {
    /// Its unique name.
    pub name: String,
    /// The address it listens on; the real one once it has been bound.
    pub listen: String,
    /// The address each client's connection is forwarded to.
    pub upstream: String,
    /// Whether it accepts connections (false: the link is down).
    pub enabled: bool,
    /// Its toxics, in the order they were added.
    pub toxics: Vec<Toxic>,
}

impl ProxySpec {
    /// The listen address as a socket address, when it is one (it is,
    /// once the proxy has been enabled).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// Toxiproxy's JSON for a proxy, toxics included.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.toxics.iter().map(Toxic::to_json).collect::<Vec<_>>(),
        })
    }
}

/// What `POST /proxies/{name}` may change; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyUpdate {
    /// A new listen address.
    pub listen: Option<String>,
    /// A new upstream.
    pub upstream: Option<String>,
    /// Up or down.
    pub enabled: Option<bool>,
}

/// One proxy in the registry.
#[derive(Debug)]
struct ProxyEntry {
    name: String,
    listen: String,
    upstream: String,
    toxics: Vec<InstalledToxic>,
    /// Every connection of the proxy watches this list.
    toxics_published: watch::Sender<ToxicList>,
    listening: Option<Listening>,
}

/// A running listener and the switch that stops it.
#[derive(Debug)]
struct Listening {
    stop: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl ProxyEntry {
    fn spec(&self) -> ProxySpec {
        ProxySpec {
            name: self.name.clone(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.listening.is_some(),
            toxics: self.toxics.iter().map(|t| t.toxic.clone()).collect(),
        }
    }

    fn publish_toxics(&self) {
        self.toxics_published.send_replace(Arc::new(self.toxics.clone()));
    }

    fn find_toxic(&self, toxic: &str) -> Result<usize, ProxyError> {
        self.toxics
            .iter()
            .position(|t| t.toxic.name == toxic)
            .ok_or_else(|| ProxyError::ToxicNotFound(toxic.to_string()))
    }

    /// Binds the listen address and starts accepting; the real address
    /// (port 0 resolved) replaces the configured one, so enabling the proxy
    /// again reopens the same port.
    async fn start(&mut self, seed: u64) -> Result<(), ProxyError> {
        if self.listening.is_some() {
            return Ok(());
        }
        let listen_error =
            |source: std::io::Error| ProxyError::Listen { address: self.listen.clone(), source };
        let listener = TcpListener::bind(self.listen.as_str()).await.map_err(listen_error)?;
        self.listen = listener.local_addr().map_err(listen_error)?.to_string();
        let (stop, stopped) = watch::channel(false);
        let accepting = tokio::spawn(accept_clients(
            listener,
            self.upstream.clone(),
            self.toxics_published.subscribe(),
            stopped,
            seed,
        ));
        self.listening = Some(Listening { stop, accepting });
        Ok(())
    }

    /// Closes the listener and every live connection, and waits until they are.
    async fn stop(&mut self) {
        if let Some(listening) = self.listening.take() {
            let _ = listening.stop.send(true);
            let _ = listening.accepting.await;
        }
    }
}

/// Every proxy by name, in name order.
#[derive(Debug)]
pub struct Registry {
    proxies: Mutex<BTreeMap<String, ProxyEntry>>,
    next_toxic_id: AtomicU64,
    seed: u64,
    listeners_started: AtomicU64,
}

impl Registry {
    /// An empty registry; `seed` drives toxicity rolls, jitter and slice
    /// sizes (each connection gets its own generator derived from it).
    pub fn new(seed: u64) -> Registry {
        Registry {
            proxies: Mutex::new(BTreeMap::new()),
            next_toxic_id: AtomicU64::new(0),
            seed,
            listeners_started: AtomicU64::new(0),
        }
    }

    fn listener_seed(&self) -> u64 {
        let started = self.listeners_started.fetch_add(1, Ordering::Relaxed);
        self.seed ^ started.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Every proxy, in name order.
    pub async fn proxies(&self) -> Vec<ProxySpec> {
        self.proxies.lock().await.values().map(ProxyEntry::spec).collect()
    }

    /// One proxy.
    pub async fn proxy(&self, name: &str) -> Result<ProxySpec, ProxyError> {
        let proxies = self.proxies.lock().await;
        proxies.get(name).map(ProxyEntry::spec).ok_or_else(|| not_found(name))
    }

    /// Creates a proxy from `listen` to `upstream`, listening at once when
    /// `enabled`. The returned spec carries the real listen address.
    pub async fn create(
        &self,
        name: &str,
        listen: &str,
        upstream: &str,
        enabled: bool,
    ) -> Result<ProxySpec, ProxyError> {
        if name.is_empty() {
            return Err(ProxyError::MissingField("name"));
        }
        if upstream.is_empty() {
            return Err(ProxyError::MissingField("upstream"));
        }
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(name) {
            return Err(ProxyError::ProxyAlreadyExists(name.to_string()));
        }
        let mut entry = ProxyEntry {
            name: name.to_string(),
            listen: if listen.is_empty() { DEFAULT_LISTEN } else { listen }.to_string(),
            upstream: upstream.to_string(),
            toxics: Vec::new(),
            toxics_published: watch::channel(Arc::new(Vec::new())).0,
            listening: None,
        };
        if enabled {
            entry.start(self.listener_seed()).await?;
        }
        let spec = entry.spec();
        proxies.insert(name.to_string(), entry);
        Ok(spec)
    }

    /// Changes a proxy's addresses or state. A new address closes the
    /// proxy's connections and listens again; `enabled: false` closes the
    /// listener and every live connection (the link is down), `true`
    /// reopens it on the same address.
    pub async fn update(&self, name: &str, update: ProxyUpdate) -> Result<ProxySpec, ProxyError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxies.get_mut(name).ok_or_else(|| not_found(name))?;
        let enabled = update.enabled.unwrap_or(entry.listening.is_some());
        let listen = update.listen.filter(|l| !l.is_empty() && *l != entry.listen);
        let upstream = update.upstream.filter(|u| !u.is_empty() && *u != entry.upstream);
        if listen.is_some() || upstream.is_some() || !enabled {
            entry.stop().await;
        }
        if let Some(listen) = listen {
            entry.listen = listen;
        }
        if let Some(upstream) = upstream {
            entry.upstream = upstream;
        }
        if enabled {
            entry.start(self.listener_seed()).await?;
        }
        Ok(entry.spec())
    }

    /// Takes a proxy's link down (`false`) or brings it back up (`true`).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ProxySpec, ProxyError> {
        self.update(name, ProxyUpdate { enabled: Some(enabled), ..ProxyUpdate::default() }).await
    }

    /// Removes a proxy, closing its listener and connections.
    pub async fn delete(&self, name: &str) -> Result<(), ProxyError> {
        let mut proxies = self.proxies.lock().await;
        let mut entry = proxies.remove(name).ok_or_else(|| not_found(name))?;
        entry.stop().await;
        Ok(())
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ProxyError> {
        let mut proxies = self.proxies.lock().await;
        for entry in proxies.values_mut() {
            entry.toxics.clear();
            entry.publish_toxics();
            entry.start(self.listener_seed()).await?;
        }
        Ok(())
    }

    /// Creates each proxy, or brings an existing one of that name in line:
    /// one with another listen address or upstream is replaced (as
    /// Toxiproxy does), one with the same is kept with its toxics and only
    /// enabled or disabled. Every entry is checked before anything changes.
    pub async fn populate(&self, wanted: Vec<ProxySpec>) -> Result<Vec<ProxySpec>, ProxyError> {
        for (index, spec) in wanted.iter().enumerate() {
            if spec.name.is_empty() || spec.upstream.is_empty() {
                let field = if spec.name.is_empty() { "name" } else { "upstream" };
                return Err(ProxyError::bad_field(
                    field,
                    format!("missing at proxy {} of the list", index + 1),
                ));
            }
        }
        let mut populated = Vec::with_capacity(wanted.len());
        for spec in wanted {
            let existing = self.proxy(&spec.name).await.ok();
            let listen = if spec.listen.is_empty() { DEFAULT_LISTEN } else { &spec.listen };
            let same = existing.as_ref().is_some_and(|e| {
                e.upstream == spec.upstream && (e.listen == listen || listen == DEFAULT_LISTEN)
            });
            if same {
                populated.push(self.set_enabled(&spec.name, spec.enabled).await?);
                continue;
            }
            if existing.is_some() {
                self.delete(&spec.name).await?;
            }
            populated.push(self.create(&spec.name, listen, &spec.upstream, spec.enabled).await?);
        }
        Ok(populated)
    }

    /// A proxy's toxics, in the order they were added.
    pub async fn toxics(&self, name: &str) -> Result<Vec<Toxic>, ProxyError> {
        Ok(self.proxy(name).await?.toxics)
    }

    /// One toxic of a proxy.
    pub async fn toxic(&self, name: &str, toxic: &str) -> Result<Toxic, ProxyError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry.toxics[entry.find_toxic(toxic)?].toxic.clone())
    }

    /// Adds a toxic; it acts on live connections from their next chunk.
    pub async fn add_toxic(&self, name: &str, toxic: Toxic) -> Result<Toxic, ProxyError> {
        toxic.validate()?;
        let mut proxies = self.proxies.lock().await;
        let entry = proxies.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.find_toxic(&toxic.name).is_ok() {
            return Err(ProxyError::ToxicAlreadyExists(toxic.name));
        }
        let id = self.next_toxic_id.fetch_add(1, Ordering::Relaxed);
        entry.toxics.push(InstalledToxic { id, toxic: toxic.clone() });
        entry.publish_toxics();
        Ok(toxic)
    }

    /// Changes a toxic in place with `change`, which gets the current one
    /// (its name, type and stream cannot change: they are its identity).
    pub async fn update_toxic(
        &self,
        name: &str,
        toxic: &str,
        change: impl FnOnce(&Toxic) -> Result<Toxic, ProxyError>,
    ) -> Result<Toxic, ProxyError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxies.get_mut(name).ok_or_else(|| not_found(name))?;
        let index = entry.find_toxic(toxic)?;
        let current = &entry.toxics[index].toxic;
        let mut changed = change(current)?;
        changed.validate()?;
        changed.name.clone_from(&current.name);
        changed.stream = current.stream;
        if changed.kind.type_name() != current.kind.type_name() {
            return Err(ProxyError::bad_field("type", "a toxic's type cannot change"));
        }
        entry.toxics[index].toxic = changed.clone();
        entry.publish_toxics();
        Ok(changed)
    }

    /// Removes a toxic; live connections stop applying it from their next chunk.
    pub async fn remove_toxic(&self, name: &str, toxic: &str) -> Result<(), ProxyError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxies.get_mut(name).ok_or_else(|| not_found(name))?;
        let index = entry.find_toxic(toxic)?;
        entry.toxics.remove(index);
        entry.publish_toxics();
        Ok(())
    }

    /// Stops every proxy (listeners and connections) and forgets them.
    pub async fn shutdown(&self) {
        let mut proxies = self.proxies.lock().await;
        for entry in proxies.values_mut() {
            entry.stop().await;
        }
        proxies.clear();
    }
}

fn not_found(name: &str) -> ProxyError {
    ProxyError::ProxyNotFound(name.to_string())
}
