//! The bench file (docs/lab.md): the physical readers of a lab bench and
//! how to find each, the POS adapter, the backend and the hooks, as TOML.
//! Every error names the file, the key and the line
//! (`readerlab_core::parse_data_file`), so a bench author never bisects a file.
//!
//! Ways of finding a reader that are not built yet (`ble_name`,
//! `ble_address`, `serial`) are refused with that said, never ignored: a
//! bench that names a reader so would otherwise check nothing.

use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::core::{DataFileError, Family, parse_data_file};
use readerlab_emulator::fixtures::ReaderCatalog;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The boot time of a model whose profile gives none.
pub const DEFAULT_BOOT_S: f64 = 60.0;
/// Beyond the model's reboot time, how long a reader may take to answer
/// again (its services start after the reboot ends).
pub const BOOT_MARGIN_S: f64 = 30.0;

/// A bench file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    pos: Option<String>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    coordinator: Option<String>,
    #[serde(default)]
    labgrid_client: Option<String>,
    #[serde(default)]
    reader: Vec<ReaderEntry>,
    #[serde(default)]
    backend: Option<BackendEntry>,
    #[serde(default)]
    hooks: Hooks,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReaderEntry {
    id: String,
    model: String,
    #[serde(default)]
    ble_tcp: Option<String>,
    #[serde(default)]
    lan: Option<String>,
    #[serde(default)]
    ble_name: Option<toml::Value>,
    #[serde(default)]
    ble_address: Option<toml::Value>,
    #[serde(default)]
    serial: Option<toml::Value>,
    #[serde(default)]
    boot_s: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendEntry {
    url: String,
    key_env: String,
    #[serde(default)]
    pos_key_env: Option<String>,
    /// Only so that a key written in the file is refused with its line.
    #[serde(default)]
    key: Option<toml::Value>,
}

/// One hook: a shell command and how long it may take.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Run with `sh -c`.
    pub run: String,
    /// Seconds it may take before it is killed and failed.
    pub timeout_s: f64,
}

impl Hook {
    /// Its timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s)
    }
}

/// Hooks by target (a reader id, or `pos` for the POS's own link).
pub type ByTarget = BTreeMap<String, Hook>;

/// The link hooks of one direction (down or up), by link name.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// A reader's own internet (smart readers), by reader id.
    #[serde(default, rename = "reader-backend")]
    pub reader_backend: ByTarget,
    /// The POS's internet: the target is `pos`.
    #[serde(default, rename = "pos-backend")]
    pub pos_backend: ByTarget,
    /// POS to reader (Bluetooth, USB or LAN), by reader id.
    #[serde(default, rename = "pos-reader")]
    pub pos_reader: ByTarget,
}

impl Links {
    /// Each link name with its hooks.
    pub fn each(&self) -> [(&'static str, &ByTarget); 3] {
        [
            ("reader-backend", &self.reader_backend),
            ("pos-backend", &self.pos_backend),
            ("pos-reader", &self.pos_reader),
        ]
    }
}

/// What the bench can do, each action by target.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub power_off: ByTarget,
    #[serde(default)]
    pub power_on: ByTarget,
    #[serde(default)]
    pub power_cycle: ByTarget,
    #[serde(default)]
    pub reboot: ByTarget,
    #[serde(default)]
    pub present_card: ByTarget,
    #[serde(default)]
    pub link_down: Links,
    #[serde(default)]
    pub link_up: Links,
}

impl Hooks {
    /// Every reader-keyed action with its hooks, for validation.
    fn by_reader(&self) -> Vec<(String, &ByTarget)> {
        let mut all = vec![
            ("power_off".to_owned(), &self.power_off),
            ("power_on".to_owned(), &self.power_on),
            ("power_cycle".to_owned(), &self.power_cycle),
            ("reboot".to_owned(), &self.reboot),
            ("present_card".to_owned(), &self.present_card),
        ];
        for (direction, links) in [("link_down", &self.link_down), ("link_up", &self.link_up)] {
            for (link, hooks) in links.each() {
                if link != "pos-backend" {
                    all.push((format!("{direction}.{link}"), hooks));
                }
            }
        }
        all
    }
}

/// How the bench reaches a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Find {
    /// BLE-over-TCP (docs/ble-gatt.md), `HOST:PORT`.
    BleTcp(String),
    /// A smart reader's LAN API base URL (docs/control-api.md).
    Lan(String),
}

/// One reader of the bench.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReader {
    /// The bench's name for it; hooks are keyed by it.
    pub id: String,
    pub model: ReaderModel,
    pub find: Find,
    /// How long it may take to answer again after power on.
    pub boot: Duration,
}

/// The backend and where its key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// `http://HOST:PORT`, the API's base (requests go to `{url}/v1/...`).
    pub url: String,
    /// The environment variable holding the secret key (readerlab's own
    /// reads: the health check, the ledger).
    pub key_env: String,
    /// The environment variable holding the key the POS is given (by
    /// default the same): a served bench tells its POS's calls apart by it.
    pub pos_key_env: String,
}

/// A labgrid place that stands for the bench: held for the whole of a
/// `run` or `lab check` (`place.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The place's name on the coordinator.
    pub name: String,
    /// The coordinator, `HOST:PORT` (`None`: labgrid's own default,
    /// `LG_COORDINATOR` or 127.0.0.1:20408).
    pub coordinator: Option<String>,
    /// The `labgrid-client` command.
    pub client: String,
}

/// A bench, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Bench {
    /// The file it came from, for messages.
    pub file: String,
    /// The labgrid place to hold while the bench is used.
    pub place: Option<Place>,
    pub readers: Vec<BenchReader>,
    pub pos: Option<String>,
    pub backend: Option<Backend>,
    pub hooks: Hooks,
}

/// Reads and checks the bench file at `path`.
pub fn load(path: &std::path::Path) -> anyhow::Result<Bench> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{file}: cannot read the bench file: {e}"))?;
    Ok(parse(&file, &text)?)
}

/// Parses a bench file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Bench, DataFileError> {
    let raw: File = parse_data_file(file, text)?;
    let at = |key: String, message: String| DataFileError::at(file, text, &key, message);
    let mut readers = Vec::new();
    for (i, entry) in raw.reader.iter().enumerate() {
        let reader =
            reader(entry, &|key: &str, message: String| at(format!("reader[{i}].{key}"), message))?;
        if readers.iter().any(|r: &BenchReader| r.id == reader.id) {
            return Err(at(
                format!("reader[{i}].id"),
                format!("`{}` names two readers", reader.id),
            ));
        }
        readers.push(reader);
    }
    let place = place(&raw, &|key: &str, message: String| at(key.to_owned(), message))?;
    let backend = match raw.backend {
        Some(entry) => Some(backend(entry, &|key: &str, message: String| {
            at(format!("backend.{key}"), message)
        })?),
        None => None,
    };
    if let Some(pos) = &raw.pos
        && pos.trim().is_empty()
    {
        return Err(at("pos".to_owned(), "an empty command: leave `pos` out instead".to_owned()));
    }
    check_hooks(&raw.hooks, &readers, &at)?;
    Ok(Bench { file: file.to_owned(), place, readers, pos: raw.pos, backend, hooks: raw.hooks })
}

/// The labgrid place, if the bench names one.
fn place(
    raw: &File,
    at: &dyn Fn(&str, String) -> DataFileError,
) -> Result<Option<Place>, DataFileError> {
    let Some(name) = &raw.place else {
        for (key, given) in
            [("coordinator", &raw.coordinator), ("labgrid_client", &raw.labgrid_client)]
        {
            if given.is_some() {
                return Err(at(key, "only with `place` (the labgrid place to hold)".to_owned()));
            }
        }
        return Ok(None);
    };
    let word = |text: &str| !text.is_empty() && !text.chars().any(char::is_whitespace);
    if !word(name) {
        return Err(at("place", format!("`{name}`: a labgrid place's name, one word")));
    }
    if let Some(coordinator) = &raw.coordinator
        && !word(coordinator)
    {
        return Err(at("coordinator", format!("`{coordinator}`: HOST:PORT of the coordinator")));
    }
    let client = raw.labgrid_client.clone().unwrap_or_else(|| "labgrid-client".to_owned());
    if client.trim().is_empty() {
        return Err(at("labgrid_client", "an empty command".to_owned()));
    }
    Ok(Some(Place { name: name.clone(), coordinator: raw.coordinator.clone(), client }))
}

type At<'a> = dyn Fn(&str, String) -> DataFileError + 'a;

fn reader(entry: &ReaderEntry, at: &At<'_>) -> Result<BenchReader, DataFileError> {
    if entry.id.is_empty() || entry.id == "pos" || entry.id.contains(char::is_whitespace) {
        return Err(at("id", format!("`{}`: an id is one word, and not `pos`", entry.id)));
    }
    let model = ReaderModel::from_id(&entry.model).ok_or_else(|| {
        let known: Vec<&str> = ReaderModel::ALL.iter().map(|m| m.id()).collect();
        at("model", format!("unknown model `{}`; known: {}", entry.model, known.join(", ")))
    })?;
    for (key, value) in [
        ("ble_name", &entry.ble_name),
        ("ble_address", &entry.ble_address),
        ("serial", &entry.serial),
    ] {
        if value.is_some() {
            return Err(at(
                key,
                format!("not supported yet: finding a reader by `{key}`; use `ble_tcp` or `lan`"),
            ));
        }
    }
    let find = match (&entry.ble_tcp, &entry.lan) {
        (Some(addr), None) => Find::BleTcp(ble_tcp(addr).map_err(|m| at("ble_tcp", m))?),
        (None, Some(url)) => Find::Lan(http_url(url).map_err(|m| at("lan", m))?),
        (Some(_), Some(_)) => {
            return Err(at("lan", "give one of `ble_tcp` and `lan`, not both".to_owned()));
        }
        (None, None) => {
            return Err(at(
                "id",
                format!("reader `{}`: say how to find it: `ble_tcp` or `lan`", entry.id),
            ));
        }
    };
    match (&find, model.family()) {
        (Find::BleTcp(_), Family::Smart) => {
            return Err(at(
                "ble_tcp",
                format!("a {} is a smart reader: give its `lan`", model.id()),
            ));
        }
        (Find::Lan(_), Family::Mobile) => {
            return Err(at(
                "lan",
                format!("a {} is a Bluetooth reader: give its `ble_tcp`", model.id()),
            ));
        }
        _ => {}
    }
    let boot_s = entry.boot_s.unwrap_or_else(|| default_boot_s(model));
    if !(boot_s > 0.0 && boot_s <= 3600.0) {
        return Err(at("boot_s", format!("{boot_s}: seconds, more than 0 and at most 3600")));
    }
    Ok(BenchReader { id: entry.id.clone(), model, find, boot: Duration::from_secs_f64(boot_s) })
}

/// The model's own boot time, the seconds a reboot keeps it away
/// (`reboot.reboot_s` in its profile), plus [`BOOT_MARGIN_S`] for it to
/// start answering; or [`DEFAULT_BOOT_S`].
pub fn default_boot_s(model: ReaderModel) -> f64 {
    match ReaderCatalog::builtin().get(model).reboot.reboot_s {
        0 => DEFAULT_BOOT_S,
        s => f64::from(s) + BOOT_MARGIN_S,
    }
}

fn ble_tcp(addr: &str) -> Result<String, String> {
    let (host, port) =
        addr.rsplit_once(':').ok_or_else(|| format!("`{addr}`: expected HOST:PORT"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("`{addr}`: expected HOST:PORT"));
    }
    Ok(addr.to_owned())
}

fn http_url(url: &str) -> Result<String, String> {
    if url.starts_with("https://") {
        return Err(format!("`{url}`: not supported yet: https; give an http:// URL"));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: expected http://HOST:PORT/..."))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("`{url}`: no host"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn backend(entry: BackendEntry, at: &At<'_>) -> Result<Backend, DataFileError> {
    if entry.key.is_some() {
        return Err(at(
            "key",
            format!(
                "the secret key is never written in the bench file: put it in the environment variable `{}` (key_env)",
                entry.key_env
            ),
        ));
    }
    let valid_env = |name: &str| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for (key, name) in
        [("key_env", Some(&entry.key_env)), ("pos_key_env", entry.pos_key_env.as_ref())]
    {
        if let Some(name) = name
            && !valid_env(name)
        {
            return Err(at(key, format!("`{name}`: the name of an environment variable")));
        }
    }
    let url = http_url(&entry.url).map_err(|m| at("url", m))?;
    let pos_key_env = entry.pos_key_env.unwrap_or_else(|| entry.key_env.clone());
    Ok(Backend { url, key_env: entry.key_env, pos_key_env })
}

fn check_hooks(
    hooks: &Hooks,
    readers: &[BenchReader],
    at: &dyn Fn(String, String) -> DataFileError,
) -> Result<(), DataFileError> {
    let timeout_ok = |hook: &Hook| hook.timeout_s > 0.0 && hook.timeout_s <= 3600.0;
    for (action, by_target) in hooks.by_reader() {
        for (target, hook) in by_target {
            if !readers.iter().any(|r| &r.id == target) {
                return Err(at(
                    format!("hooks.{action}.{target}"),
                    format!("no reader `{target}` on the bench"),
                ));
            }
            if !timeout_ok(hook) {
                return Err(at(
                    format!("hooks.{action}.{target}.timeout_s"),
                    "seconds, more than 0 and at most 3600".to_owned(),
                ));
            }
        }
    }
    for (direction, links) in [("link_down", &hooks.link_down), ("link_up", &hooks.link_up)] {
        for (target, hook) in &links.pos_backend {
            let key = format!("hooks.{direction}.pos-backend.{target}");
            if target != "pos" {
                return Err(at(key, "the POS's internet is one link: its key is `pos`".to_owned()));
            }
            if !timeout_ok(hook) {
                return Err(at(
                    format!("{key}.timeout_s"),
                    "seconds, more than 0 and at most 3600".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
