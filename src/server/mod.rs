//! The daemon: bind the listeners (backlog 1024, TCP_NODELAY), admit each
//! connection at the front door (unauthenticated caps per source and in
//! total, penalties), and hand it to a session. One misbehaving connection
//! never affects the others.

mod admit;
mod auth;
mod auth_cert;
mod budget;
mod conn;
mod connection;
mod door;
mod jobs;
mod request;
mod sweep;
mod tally;
mod trail;
mod trim;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
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
    #[error("cannot listen on {addr}")]
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

/// What a reload replaces: the configuration and what is derived from it.
/// A connection takes the snapshot current when it is accepted and moves
/// to each newer one as it is applied: a reload judges the next request of
/// every open connection, and can revoke a signed-in user.
pub(crate) struct Live {
    pub config: ServerConfig,
    pub acceptor: TlsAcceptor,
    /// Methods offered to a client whose attempt failed: the same whoever
    /// it claimed to be.
    pub auth_methods: Vec<crate::proto::AuthMethod>,
    /// The time every password attempt takes under this configuration.
    pub floor: auth::Floor,
}

impl Live {
    fn new(config: ServerConfig) -> Result<Self, ServerError> {
        let tls = match &config.tls {
            Some(tls) => tls.clone(),
            None => crate::tls::server_config(&config.tls_cert, &config.tls_key)?,
        };
        Ok(Self {
            auth_methods: offered_methods(&config),
            floor: auth::Floor::new(&config),
            acceptor: TlsAcceptor::from(tls),
            config,
        })
    }
}

/// What every session shares.
pub(crate) struct Shared {
    live: RwLock<Arc<Live>>,
    pub daemon: DaemonAccount,
    /// Password verifications running at once.
    pub passwords: Arc<Semaphore>,
    /// Admission, penalties and the bounded front-door log.
    pub door: Arc<door::FrontDoor>,
    /// Authenticated connections (`max_connections`, fixed at start).
    pub sessions: Arc<Semaphore>,
    /// Per-user connections and running commands.
    pub budgets: Arc<budget::Budgets>,
    /// The audit trail.
    pub audit: Arc<crate::audit::Auditor>,
    /// Counters for Prometheus.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Resumable partial uploads kept, per user.
    pub kept: Arc<crate::transfer::kept::Kept>,
    /// Detached and resumable jobs, every user's.
    pub jobs: Arc<jobs::Jobs>,
    /// The next connection id (for audit records).
    pub next_conn: std::sync::atomic::AtomicU64,
    /// Becomes true when the drain period is over: sessions stop their
    /// commands and close.
    pub stop: watch::Receiver<bool>,
    /// Counts reloads: every open connection re-judges its user on a change.
    pub reloads: watch::Sender<u64>,
}

impl Shared {
    /// The configuration now.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().expect("live lock").clone()
    }
}

/// Applies reloaded configurations to a running [`Server`].
#[derive(Clone)]
pub struct Reloader {
    shared: Arc<Shared>,
}

impl Reloader {
    /// From now on every request, on new connections and open ones, is
    /// judged by `config`; an open connection whose signed-in identity it
    /// no longer admits is revoked (see `conn::revoke`). Penalties are
    /// cleared (and take the new `[penalties]` settings). `listen`,
    /// `max_connections` and the unauthenticated totals keep their values
    /// from start-up.
    pub fn apply(&self, config: ServerConfig) -> Result<(), ServerError> {
        let live = Arc::new(Live::new(config)?);
        let expiry = live.config.tls_not_after.unwrap_or(0);
        self.shared
            .metrics
            .tls_expiry
            .set(expiry.min(i64::MAX as u64) as i64);
        self.shared.door.reconfigure(&live.config);
        self.shared.audit.reopen(&live.config.audit);
        // A user the new configuration no longer has keeps no running job.
        let users = &live.config.users;
        let audit = &self.shared.audit;
        self.shared
            .jobs
            .stop_where(|u| !users.contains_key(u), "revoked", audit);
        *self.shared.live.write().expect("live lock") = live;
        self.shared.reloads.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Reopen the audit log where the running configuration says (after
    /// logrotate moved it), without a new configuration.
    pub fn reopen_audit(&self) {
        self.shared.audit.reopen(&self.shared.live().config.audit);
    }

    /// Record the outcome of a reload in the audit log.
    pub fn audit_reload(&self, path: &std::path::Path, error: Option<String>) {
        self.shared.metrics.reload(error.is_none());
        self.shared
            .audit
            .record(crate::audit::Event::ConfigReloaded {
                ok: error.is_none(),
                path: path.display().to_string(),
                error,
            });
    }
}

/// A bound, ready-to-serve daemon.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    metrics_listener: Option<TcpListener>,
    stop: watch::Sender<bool>,
}

impl Server {
    /// Load the TLS material and bind every `listen` address.
    pub fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        let live = Live::new(config)?;
        let config = &live.config;
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
        let metrics_listener = match config.metrics_listen {
            None => None,
            Some(addr) => Some(listen(addr).map_err(|source| ServerError::Bind { addr, source })?),
        };
        let (stop, stop_rx) = watch::channel(false);
        let jobs = Arc::new(jobs::Jobs::open(&config.jobs));
        let audit = crate::audit::Auditor::start(&config.audit);
        let metrics = crate::metrics::Metrics::new();
        let expiry = config.tls_not_after.unwrap_or(0);
        metrics.tls_expiry.set(expiry.min(i64::MAX as u64) as i64);
        Ok(Self {
            metrics_listener,
            shared: Arc::new(Shared {
                metrics: metrics.clone(),
                audit,
                door: door::FrontDoor::new(config, metrics),
                sessions: Arc::new(Semaphore::new(config.limits.max_connections)),
                live: RwLock::new(Arc::new(live)),
                daemon: DaemonAccount::current(),
                passwords: auth::password_pool(),
                budgets: Arc::default(),
                kept: Arc::default(),
                jobs,
                next_conn: std::sync::atomic::AtomicU64::new(1),
                stop: stop_rx,
                reloads: watch::Sender::new(0),
            }),
            listeners,
            stop,
        })
    }

    /// Where the metrics endpoint listens (with the actual port).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// A handle to apply reloaded configurations while [`Server::run`] runs.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            shared: self.shared.clone(),
        }
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
        let live = self.shared.live();
        let limits = &live.config.limits;
        // Every connection, authenticated or not, holds one of these until
        // it ends: the drain waits for all of them.
        let total = limits.max_connections + limits.max_unauthenticated;
        let all = Arc::new(Semaphore::new(total));
        sweep::at_start(&self.shared).await;
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(sweep::periodically(self.shared.clone()));
        tasks.spawn(sweep::jobs(self.shared.clone()));
        for listener in self.listeners {
            tasks.spawn(accept_loop(listener, self.shared.clone(), all.clone()));
        }
        tasks.spawn(summaries(self.shared.clone()));
        tasks.spawn(trim::when_quiet(all.clone(), total));
        if let Some(l) = self.metrics_listener {
            tasks.spawn(crate::metrics::serve(l, self.shared.metrics.clone()));
        }
        shutdown.await;
        tracing::info!("shutting down: no new connections, draining for {drain:?}");
        tasks.abort_all();
        if let Some(line) = self.shared.door.tally.summary() {
            tracing::info!("front door: {line}");
        }
        let total = total as u32;
        if tokio::time::timeout(drain, all.acquire_many(total))
            .await
            .is_err()
        {
            tracing::warn!("drain period over: stopping the commands still running");
            let _ = self.stop.send(true);
            let grace = self.shared.live().config.exec.kill_grace + Duration::from_secs(3);
            if tokio::time::timeout(grace, all.acquire_many(total))
                .await
                .is_err()
            {
                tracing::warn!("connections still open at exit");
            }
        }
        // Jobs end with the daemon (the sentinel would kill them anyway):
        // stopped now, so their ends are recorded where there is time;
        // the next start marks any still unrecorded as lost.
        let grace = self.shared.live().config.exec.kill_grace + Duration::from_secs(1);
        self.shared.jobs.stop_all(&self.shared.audit, grace).await;
        // Every record of the connections that ended is written before the
        // daemon exits.
        let audit = self.shared.audit.clone();
        let _ = tokio::task::spawn_blocking(move || audit.close()).await;
    }
}

/// One log line per interval for the events the tally only counted.
async fn summaries(shared: Arc<Shared>) {
    let every = shared.live().config.limits.log_summary;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Some(line) = shared.door.tally.summary() {
            tracing::info!("front door, last {} s: {line}", every.as_secs());
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, all: Arc<Semaphore>) {
    let mut serial = 0u64;
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
        serial += 1;
        // Closed here, before any TLS work, when the source or everyone
        // holds too many unauthenticated connections.
        let Some((ticket, verdict)) = shared.door.admit(peer, serial) else {
            drop(tcp);
            continue;
        };
        let Ok(permit) = all.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            serve(tcp, peer, shared, ticket, verdict).await;
            drop(permit);
        });
    }
}

async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    ticket: door::Ticket,
    verdict: crate::gate::Verdict,
) {
    let _ = tcp.set_nodelay(true);
    if let Some(every) = shared.live().config.limits.keepalive {
        // The kernel's probes find a peer that vanished without a FIN even
        // when the protocol keepalive cannot be written (full send buffer).
        let ka = socket2::TcpKeepalive::new()
            .with_time(every)
            .with_interval(every)
            .with_retries(3);
        let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&ka);
    }
    connection::run(tcp, peer, shared, ticket, verdict).await;
}
