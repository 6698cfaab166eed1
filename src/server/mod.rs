//! The daemon: bind the listeners (backlog 1024, TCP_NODELAY), accept
//! connections within the configured limit, and hand each to a session.
//! One misbehaving connection never affects the others.

mod auth;
mod connection;
mod request;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;
use crate::tls::TlsError;

/// Listen backlog; the kernel default of 128 drops bursts into SYN retries.
const BACKLOG: i32 = 1024;

/// Errors starting the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener could not be created.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The account the daemon runs as: HOME and USER for commands without
/// `run_as`.
#[derive(Debug, Clone)]
pub(crate) struct DaemonAccount {
    pub name: String,
    pub home: PathBuf,
}

impl DaemonAccount {
    fn current() -> Self {
        let uid = nix::unistd::geteuid();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(u)) => Self {
                name: u.name,
                home: u.dir,
            },
            _ => Self {
                name: uid.to_string(),
                home: PathBuf::from("/"),
            },
        }
    }
}

/// What every session shares.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub acceptor: TlsAcceptor,
    pub daemon: DaemonAccount,
    /// Methods offered to a client whose attempt failed: the same whoever
    /// it claimed to be.
    pub auth_methods: Vec<crate::proto::AuthMethod>,
    /// Password verifications running at once.
    pub passwords: Arc<Semaphore>,
    /// Becomes true when the drain period is over: sessions stop their
    /// commands and close.
    pub stop: watch::Receiver<bool>,
}

/// A bound, ready-to-serve daemon.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    stop: watch::Sender<bool>,
}

impl Server {
    /// Load the TLS material and bind every `listen` address.
    pub fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        let tls = match &config.tls {
            Some(tls) => tls.clone(),
            None => crate::tls::server_config(&config.tls_cert, &config.tls_key)?,
        };
        let listeners = config
            .listen
            .iter()
            .map(|addr| {
                listen(*addr).map_err(|source| ServerError::Bind {
                    addr: *addr,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (stop, stop_rx) = watch::channel(false);
        Ok(Self {
            shared: Arc::new(Shared {
                auth_methods: offered_methods(&config),
                config,
                acceptor: TlsAcceptor::from(tls),
                daemon: DaemonAccount::current(),
                passwords: auth::password_pool(),
                stop: stop_rx,
            }),
            listeners,
            stop,
        })
    }

    /// The bound addresses (with the actual port when 0 was configured).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serve until `shutdown` completes, then stop accepting, give running
    /// commands up to `drain` to finish, and stop (TERM, grace, KILL) the
    /// ones still running after that.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>, drain: Duration) {
        let limit = Arc::new(Semaphore::new(self.shared.config.limits.max_connections));
        let mut tasks = tokio::task::JoinSet::new();
        for listener in self.listeners {
            tasks.spawn(accept_loop(listener, self.shared.clone(), limit.clone()));
        }
        shutdown.await;
        tracing::info!("shutting down: no new connections, draining for {drain:?}");
        tasks.abort_all();
        let total = self.shared.config.limits.max_connections as u32;
        if tokio::time::timeout(drain, limit.acquire_many(total))
            .await
            .is_ok()
        {
            return;
        }
        tracing::warn!("drain period over: stopping the commands still running");
        let _ = self.stop.send(true);
        let grace = self.shared.config.exec.kill_grace + Duration::from_secs(3);
        if tokio::time::timeout(grace, limit.acquire_many(total))
            .await
            .is_err()
        {
            tracing::warn!("connections still open at exit");
        }
    }
}

/// Key always; password when some user has one.
fn offered_methods(config: &ServerConfig) -> Vec<crate::proto::AuthMethod> {
    use crate::proto::AuthMethod;
    let mut methods = vec![AuthMethod::Key];
    if config.users.values().any(|u| u.password.is_some()) {
        methods.push(AuthMethod::Password);
    }
    methods
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, limit: Arc<Semaphore>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing");
            drop(tcp);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            serve(tcp, peer, shared).await;
            drop(permit);
        });
    }
}

async fn serve(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    if let Some(every) = shared.config.limits.keepalive {
        // The kernel's probes find a peer that vanished without a FIN even
        // when the protocol keepalive cannot be written (full send buffer).
        let ka = socket2::TcpKeepalive::new()
            .with_time(every)
            .with_interval(every)
            .with_retries(3);
        let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&ka);
    }
    connection::run(tcp, peer, shared).await;
}
