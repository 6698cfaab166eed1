//! One signed-in-or-signing-in connection after the TLS handshake: the
//! state the driver keeps beside the [`ServerSession`] (running commands,
//! budgets held, the audit trail of each exec) and the loop that feeds the
//! session frames, process events and timer expiries and carries out its
//! actions. Every protocol decision is the session's; this file does I/O,
//! budgets and audit records.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::ReadHalf;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

mod exec;
mod jobs;
mod revoke;
mod sign_in;
mod transfer;
mod work;

use super::admit::Slot;
use super::auth::Proof;
use super::door::Ticket;
use super::request::{Checked, Requester};
use super::tally::Event as Tallied;
use super::{Live, Shared};
use crate::audit::{Auth, Event};
use crate::gate::Offence;
use crate::proto::AuthMethod;
use crate::session::{
    Action, AuthProof, AuthVerdict, CloseReason, ExecEvent, Outcome, ServerSession,
};
use crate::transport::{FrameReader, Outbound, TransportError};

/// Process events queued towards the session.
const EVENT_QUEUE: usize = 64;
/// How long a closing connection waits to flush its last frames.
pub(crate) const FLUSH_GRACE: Duration = Duration::from_secs(2);

type Reader<S> = FrameReader<ReadHalf<S>>;

/// The driver's side of one connection.
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub live: Arc<Live>,
    pub peer: SocketAddr,
    pub id: u64,
    pub started: Instant,
    pub ticket: Ticket,
    pub exporter: [u8; 32],
    pub session: ServerSession,
    pub out: mpsc::Sender<Outbound>,
    /// The process layer's events, tagged with the request's token.
    events: mpsc::Sender<(u64, ExecEvent)>,
    /// Every live request, by id (see [`work`]).
    work: HashMap<u64, work::Work>,
    /// The last token handed out.
    next_token: u64,
    /// Allowlist checks on the blocking pool, by token.
    checks: JoinSet<(u64, Checked)>,
    who: Option<Requester>,
    /// How the user signed in (for audit records).
    auth: Option<Auth>,
    /// The key proven so far on this connection, if any.
    key: Option<String>,
    /// The user certificate that admitted it, if one did.
    cert: Option<crate::auth::cert::CertInfo>,
    /// The password hash a proven password matched, if any.
    password: Option<crate::auth::StoredHash>,
    slot: Option<Slot>,
    /// A password being verified on the pool: (user, result).
    checking: Option<JoinHandle<(String, Proof)>>,
}

impl Conn {
    /// State for a connection whose TLS handshake is done.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<Shared>,
        live: Arc<Live>,
        peer: SocketAddr,
        id: u64,
        started: Instant,
        ticket: Ticket,
        exporter: [u8; 32],
        session: ServerSession,
        out: mpsc::Sender<Outbound>,
    ) -> (Self, mpsc::Receiver<(u64, ExecEvent)>) {
        let (events, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let conn = Self {
            shared,
            live,
            peer,
            id,
            started,
            ticket,
            exporter,
            session,
            out,
            events,
            work: HashMap::new(),
            next_token: 0,
            checks: JoinSet::new(),
            who: None,
            auth: None,
            key: None,
            cert: None,
            password: None,
            slot: None,
            checking: None,
        };
        (conn, ev_rx)
    }

    fn audit(&self, event: Event) {
        self.shared.audit.record(event);
    }

    fn user(&self) -> String {
        self.who
            .as_ref()
            .map_or_else(String::new, |w| w.user.to_string())
    }

    /// Feed the session until the connection ends; the reason.
    pub async fn drive<S>(
        &mut self,
        reader: &mut Reader<S>,
        ev_rx: &mut mpsc::Receiver<(u64, ExecEvent)>,
        write_task: &mut JoinHandle<()>,
    ) -> (CloseReason, bool)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        let mut stop = self.shared.stop.clone();
        let mut reloads = self.shared.reloads.subscribe();
        loop {
            while let Some(action) = self.session.poll_action() {
                if let Action::Close(reason) = action {
                    return (reason, false);
                }
                self.act(action, reader).await;
            }
            let wake = self
                .session
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let checking = self.checking.is_some();
            tokio::select! {
                frame = reader.read_frame() => match frame {
                    Ok(Some(frame)) => self.session.handle_frame(frame, Instant::now()),
                    Ok(None) => self.session.handle_peer_closed(),
                    Err(TransportError::Frame(e)) => self.session.handle_decode_error(&e),
                    Err(e) => {
                        tracing::debug!(peer = %self.peer, "connection lost: {e}");
                        self.session.handle_peer_closed();
                    }
                },
                done = async { self.checking.as_mut().expect("guarded").await }, if checking => {
                    self.checking = None;
                    let (user, proof) = done.unwrap_or_else(|_| {
                        let failure = Some("the password check did not finish".to_string());
                        let verdict = AuthVerdict::Failed;
                        let cert = None;
                        (String::new(), Proof { verdict, failure, key: None, cert })
                    });
                    self.verdict(&user, AuthMethod::Password, proof);
                }
                Some((token, event)) = ev_rx.recv() => self.exec_event(token, event),
                Some(done) = self.checks.join_next() => match done {
                    Ok((token, checked)) => self.checked(token, checked),
                    Err(e) => tracing::error!(peer = %self.peer, "allowlist check failed: {e}"),
                },
                // Disabled (never polled) while there is no deadline.
                _ = tokio::time::sleep_until(wake.unwrap_or_else(tokio::time::Instant::now)),
                    if wake.is_some() => self.session.handle_timeout(Instant::now()),
                _ = stopped(&mut stop) => self.session.shutdown(),
                Ok(()) = reloads.changed() => self.reloaded(),
                _ = &mut *write_task => {
                    self.session.handle_peer_closed();
                    while let Some(action) = self.session.poll_action() {
                        match action {
                            Action::Close(reason) => return (reason, true),
                            Action::Finished { id, kind, outcome } => {
                                self.finished(id, kind, outcome)
                            }
                            _ => {}
                        }
                    }
                    return (CloseReason::PeerClosed, true);
                }
            }
        }
    }

    async fn act<S>(&mut self, action: Action, reader: &mut Reader<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        match action {
            Action::Send(m, body) => {
                self.sending(&m, &body);
                if self.out.send((m, body)).await.is_err() {
                    self.session.handle_peer_closed();
                }
            }
            Action::Verify {
                user,
                proof,
                proven,
            } => match proof {
                AuthProof::Key {
                    signature,
                    certificate,
                } => {
                    let (live, peer) = (&self.live, self.peer);
                    let cert = certificate.as_deref();
                    let exporter = &self.exporter;
                    let p =
                        super::auth::key(live, peer, &user, &signature, cert, exporter, &proven);
                    self.verdict(&user, AuthMethod::Key, p);
                }
                AuthProof::Password { password } => {
                    let (pool, live) = (self.shared.passwords.clone(), self.live.clone());
                    let peer = self.peer;
                    self.checking = Some(tokio::spawn(async move {
                        let name = user.clone();
                        let p = super::auth::password(pool, live, peer, name, password, proven);
                        (user, p.await)
                    }));
                }
            },
            Action::Authenticated { user } => {
                reader.set_max_body(self.session.max_body());
                reader.release_idle();
                let forced = self.cert.as_ref().and_then(|c| c.force_command.clone());
                self.who = Some(Requester {
                    shared: self.shared.clone(),
                    live: self.live.clone(),
                    user: user.into(),
                    peer: self.peer,
                    forced: forced.map(Into::into),
                });
                // A reload while the proof was checked: judged now.
                self.reloaded();
            }
            Action::Exec {
                id,
                argv,
                stdin,
                timeout_ms,
            } => self.exec(id, argv, stdin, timeout_ms, None),
            Action::Job {
                id,
                argv,
                stdin,
                detach,
                timeout_ms,
            } => self.exec(id, argv, stdin, timeout_ms, Some(detach)),
            Action::Attach { id, spec } => self.attach(id, spec),
            Action::Jobs { id } => {
                let jobs = self.shared.jobs.list(&self.user());
                self.session.handle_jobs(id, jobs);
            }
            Action::CancelJob { id, job } => self.cancel_job(id, job),
            Action::Stdin { id, data } => self.stdin(id, data),
            Action::StdinEof { id } => {
                if let Some(p) = self.proc(id) {
                    p.close_stdin();
                } else if let Some(f) = self.following(id) {
                    if let Some(holder) = f.stdin {
                        f.job.close_stdin(holder);
                    }
                }
            }
            Action::OutputTaken { id, stream } => {
                if let Some(p) = self.proc(id) {
                    p.output_taken(stream);
                } else if let Some(t) = self.transfer(id) {
                    t.output_taken();
                } else if let Some(f) = self.following(id) {
                    f.follower.output_taken(stream);
                }
            }
            Action::Put { id, spec } => self.put(id, spec),
            Action::Get { id, spec } => self.get(id, spec),
            Action::Commit { id, size, blake3 } => {
                if let Some(t) = self.transfer(id) {
                    t.commit(size, blake3);
                }
            }
            Action::Stop { id, reason } => {
                // A transfer's handle goes with its `Finished`.
                let proc = match self.work.get_mut(&id).map(|w| &mut w.stage) {
                    Some(work::Stage::Running { proc, .. }) => proc.as_mut(),
                    _ => None,
                };
                if let Some(p) = proc {
                    tracing::info!(peer = %self.peer, id, ?reason, "stopping command");
                    p.stop();
                } else if self.following(id).is_some() {
                    self.stop_following(id, reason);
                }
            }
            Action::Finished { id, kind, outcome } => self.finished(id, kind, outcome),
            Action::List { id } => {
                let user = self.user();
                let commands = self
                    .live
                    .config
                    .policy
                    .rules_for(&user)
                    .map(|r| crate::proto::CommandInfo {
                        command: r.name().to_string(),
                        template: crate::policy::describe::template(r),
                        slots: crate::policy::describe::constraints(r),
                    })
                    .collect();
                self.session.handle_listed(id, commands);
            }
            Action::Close(_) => {}
        }
    }

    /// After the loop: stop what runs, flush, penalise, audit the close.
    pub async fn finish(
        mut self,
        reason: CloseReason,
        writer_done: bool,
        mut write_task: JoinHandle<()>,
    ) {
        if let Some(c) = self.checking.take() {
            c.abort();
        }
        // The engine finished every request before `Close`; anything left
        // would be a driver bug, and still gets its record. Dropping a
        // handle stops its command or transfer.
        let left: Vec<(u64, crate::session::Kind)> =
            self.work.iter().map(|(id, w)| (*id, w.kind())).collect();
        for (id, kind) in left {
            tracing::error!(peer = %self.peer, id, "request left without an end");
            self.finished(id, kind, Outcome::ConnectionLost);
        }
        self.checks.abort_all();
        drop(self.out);
        if !writer_done
            && tokio::time::timeout(FLUSH_GRACE, &mut write_task)
                .await
                .is_err()
        {
            write_task.abort();
        }
        let door = &self.shared.door;
        let ip = self.peer.ip();
        let failures = self.session.auth_failures();
        if failures > 0 {
            door.penalise(ip, Offence::AuthFailure, failures);
        } else if self.who.is_none() {
            let offence = match &reason {
                CloseReason::Protocol(_) => {
                    door.tally
                        .note(Tallied::ProtocolError, self.ticket.source());
                    Offence::ProtocolError
                }
                _ => Offence::NoAuth,
            };
            door.penalise(ip, offence, 1);
        }
        drop(self.slot.take());
        self.shared.metrics.connections_open.dec();
        let user = self.who.as_ref().map(|w| w.user.to_string());
        let peer = self.peer;
        match &reason {
            CloseReason::PeerClosed => tracing::debug!(%peer, ?user, "connection closed"),
            other => tracing::info!(%peer, ?user, reason = ?other, "connection closed"),
        }
        self.shared.audit.record(Event::ConnectionClosed {
            conn: self.id,
            peer: peer.to_string(),
            user,
            reason: close_reason(&reason),
            duration_ms: self.started.elapsed().as_millis() as u64,
        });
    }
}

/// The close reason as the audit log spells it.
fn close_reason(r: &CloseReason) -> String {
    match r {
        CloseReason::PeerClosed => "peer_closed".into(),
        CloseReason::PeerError(m) => format!("peer_error: {}", crate::logtext::shown(m)),
        CloseReason::Protocol(m) => format!("protocol: {m}"),
        CloseReason::AuthFailed => "auth_failed".into(),
        CloseReason::AuthTimeout => "auth_timeout".into(),
        CloseReason::Idle => "idle".into(),
        CloseReason::Unresponsive => "unresponsive".into(),
        CloseReason::Shutdown => "shutdown".into(),
        CloseReason::Busy => "busy".into(),
        CloseReason::Revoked => "revoked".into(),
    }
}

/// Completes once the server's drain period is over.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        // The server is gone without asking us to stop: keep serving.
        std::future::pending::<()>().await;
    }
}
