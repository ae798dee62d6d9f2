//! [`Server`]: one listener for the backend's Stripe-compatible API
//! (`/v1/...`) and the control API (`/_readerlab/...`), around one
//! [`ServedRig`]; started and shut down cleanly.

pub use super::conn::ServeLimits;
use super::control;
use super::rig::{ClockMode, ServeError, ServedRig};
use super::stripe::{self, BackendHost};
use crate::core::ConnectionStatus;
use crate::core::backend::{ApiCall, ApiError, ApiErrorKind, ApiReply};
use crate::sim::RigSpec;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What `readerlab serve` starts.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where the backend and control APIs listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Real or virtual time.
    pub clock: ClockMode,
    /// The control API's token; required when `listen` is not loopback.
    pub token: Option<String>,
    /// The rig to start (its `data_dir` says where stores live).
    pub rig: RigSpec,
    /// The secret key backend clients must present (`sk_test_…`); when
    /// `listen` is not loopback, not the public default.
    pub secret_key: String,
    /// The carrier of the POS-to-reader link of Bluetooth readers; `None`:
    /// in process.
    pub ble: Option<super::ble_bridge::BleCarrier>,
    /// The timeline view at `/_readerlab/ui`; `None`: that path is a 404.
    pub ui: Option<Arc<dyn super::control::UiHost>>,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Beyond loopback the control API must be protected.
    #[error("{0} is not a loopback address: the control API then needs --token")]
    TokenRequired(SocketAddr),
    /// Beyond loopback the backend must not take the public default key.
    #[error(
        "{0} is not a loopback address: the backend then needs its own key (pass --secret-key)"
    )]
    DefaultSecretKey(SocketAddr),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    /// The rig could not be built.
    #[error("cannot start the rig: {0}")]
    Rig(#[from] super::rig::ServeError),
}

/// Whether a server may listen on `listen` with this token and key. On
/// loopback anything goes; beyond it (any other address, the unspecified
/// `0.0.0.0` and `::` included) the control API needs a token and the
/// backend a secret key other than the public default
/// (`BackendConfig::default().secret_key`, printed in every doc), which
/// would let anyone who can reach the port act for the account.
pub fn check_exposure(
    listen: SocketAddr,
    token: Option<&str>,
    secret_key: &str,
) -> Result<(), StartError> {
    if listen.ip().is_loopback() {
        return Ok(());
    }
    if token.is_none() {
        return Err(StartError::TokenRequired(listen));
    }
    if secret_key == crate::core::backend::BackendConfig::default().secret_key {
        return Err(StartError::DefaultSecretKey(listen));
    }
    Ok(())
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    rig: ServedRig,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

/// The backend API runs calls on the served rig.
#[derive(Debug)]
struct RigBackend(ServedRig);

impl BackendHost for RigBackend {
    fn call(&self, call: ApiCall) -> ApiReply {
        self.0.backend_call(call).unwrap_or_else(|e| self.call_failed(&e))
    }

    fn secret_key(&self) -> String {
        self.0.secret_key().to_owned()
    }

    fn pos_key(&self) -> Option<String> {
        Some(self.0.pos_key())
    }

    fn pos_call(&self, call: ApiCall) -> Option<ApiReply> {
        self.0.pos_call(call).unwrap_or_else(|e| Some(self.call_failed(&e)))
    }

    fn is_pos_token(&self, token: &str) -> bool {
        self.0.read(|sim| sim.is_pos_token(token)).unwrap_or(false)
    }
}

impl RigBackend {
    /// A call that found no rig to run on: 503 in Stripe's shape.
    fn call_failed(&self, error: &ServeError) -> ApiReply {
        ApiReply::Err(ApiError {
            status: 503,
            kind: ApiErrorKind::ApiError,
            code: None,
            decline_code: None,
            message: error.to_string(),
            param: None,
            payment_intent: None,
        })
    }
}

impl Server {
    /// Binds, starts the rig and serves until [`Server::shutdown`]. Must be
    /// called inside a tokio runtime.
    pub async fn start(config: ServeConfig) -> Result<Server, StartError> {
        Server::start_with(config, ServeLimits::default()).await
    }

    /// [`Server::start`] with these connection limits.
    pub async fn start_with(
        config: ServeConfig,
        limits: ServeLimits,
    ) -> Result<Server, StartError> {
        check_exposure(config.listen, config.token.as_deref(), &config.secret_key)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let rig = ServedRig::new(config.clock, config.secret_key.clone());
        // Devices call the backend on loopback even when clients come from
        // elsewhere.
        let backend = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port());
        let backend = if addr.ip().is_unspecified() { backend } else { addr };
        rig.set_backend(backend);
        if let Some(data) = &config.rig.data_dir {
            rig.set_data_root(data.clone());
        }
        rig.set_ble(config.ble);
        rig.start(config.rig.clone())?;
        let host: Arc<dyn BackendHost> = Arc::new(RigBackend(rig.clone()));
        let app = control::mount(
            stripe::router(host),
            rig.clone(),
            config.token.clone(),
            config.ui.clone(),
        );
        if config.clock == ClockMode::Real {
            // Clients may ask for a payment as soon as we answer: let the
            // readers finish connecting to the POS first (under 2 s).
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while tokio::time::Instant::now() < deadline {
                let ready = rig.read(|sim| {
                    sim.reader_views().iter().all(|r| r.status == ConnectionStatus::Connected)
                })?;
                if ready {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(super::conn::serve(listener, app, limits, stopped));
        Ok(Server { addr, rig, stop, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The rig it serves.
    pub fn rig(&self) -> &ServedRig {
        &self.rig
    }

    /// Stops accepting, lets open requests finish, and waits for calls in
    /// flight to be answered. Stored payments are on disk already: a store
    /// acknowledges a payment only after it is synced.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        let quiet = tokio::time::timeout(std::time::Duration::from_secs(5), self.rig.quiesce());
        let _ = quiet.await;
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join.to_string())),
        }
    }
}
