//! The driver of one connection: TLS handshake within the auth deadline,
//! then a loop that feeds [`ServerSession`] with frames, process events and
//! timer expiries, and carries out its actions (write frames, verify the
//! proof, check and spawn commands, feed and stop them). Every protocol
//! decision is the session's; this file only does I/O.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::auth::Proof;
use super::budget::Held;
use super::door::Ticket;
use super::request::{Checked, Requester};
use super::tally::Event;
use super::{Live, Shared};
use crate::exec::ExecHandle;
use crate::gate::{Offence, Verdict};
use crate::proto::{ErrorCode, Message, ALPN, MAX_BODY_LEN};
use crate::readahead::ReadAhead;
use crate::session::{
    Action, AuthProof, AuthVerdict, CloseReason, ExecEvent, ServerSession, ServerSettings,
};
use crate::transport::{FrameReader, FrameWriter, TransportError};

/// Frames queued for the writer task. Data in it is bounded by the output
/// windows the client granted.
const OUT_QUEUE: usize = 64;
/// Process events queued towards the session.
const EVENT_QUEUE: usize = 64;
/// How long a closing connection waits to flush its last frames.
const FLUSH_GRACE: Duration = Duration::from_secs(2);

/// Serve one accepted TCP connection to its end. `ticket` holds its
/// unauthenticated slot; `verdict` says whether its source is penalised.
pub(crate) async fn run(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut ticket: Ticket,
    verdict: Verdict,
) {
    let start = Instant::now();
    // This connection's configuration, whatever reloads happen meanwhile.
    let live = shared.live();
    let limits = &live.config.limits;
    let auth_deadline = start + limits.auth_timeout;
    let handshake = live.acceptor.accept(ReadAhead::new(tcp));
    let tokio_deadline = tokio::time::Instant::from_std(auth_deadline);
    let door = &shared.door;
    let mut tls = match tokio::time::timeout_at(tokio_deadline, handshake).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            if door.tally.note(Event::TlsFailed, ticket.source()) {
                tracing::info!(%peer, "TLS handshake failed: {e}");
            }
            return door.penalise(peer.ip(), Offence::NoAuth, 1);
        }
        Err(_) => {
            if door.tally.note(Event::TlsFailed, ticket.source()) {
                tracing::info!(%peer, "TLS handshake timed out");
            }
            return door.penalise(peer.ip(), Offence::NoAuth, 1);
        }
    };
    // Up to 1 MiB of outgoing records, so bulk output leaves in large writes.
    tls.get_mut().1.set_buffer_limit(Some(1 << 20));
    let conn = tls.get_ref().1;
    if conn.alpn_protocol() != Some(ALPN) {
        tracing::info!(%peer, "client negotiated no ALPN secsh/1; closing");
        let _ =
            tokio::time::timeout(FLUSH_GRACE, tokio::io::AsyncWriteExt::shutdown(&mut tls)).await;
        return;
    }
    let exporter = match crate::tls::auth_exporter(conn) {
        Ok(e) => e,
        Err(e) => return tracing::warn!(%peer, "TLS exporter failed: {e}"),
    };
    if let Verdict::Refuse { retry_after } = verdict {
        if door.tally.note(Event::RateLimited, ticket.source()) {
            tracing::info!(%peer, "refused: source penalised for repeated failures");
        }
        return refuse_rate_limited(tls, retry_after).await;
    }
    let (rd, wr) = tokio::io::split(tls);
    let mut reader = FrameReader::new(rd);
    // Before authentication no frame has a body.
    reader.set_max_body(0);
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let mut write_task = tokio::spawn(crate::transport::write_queue(FrameWriter::new(wr), out_rx));
    let settings = ServerSettings {
        auth_deadline,
        max_requests: limits.max_requests_per_connection,
        stdin_window: limits.stdin_window,
        stdin_budget: limits.per_user.stdin_buffer,
        idle_timeout: limits.idle_timeout,
        keepalive: limits.keepalive,
        auth_methods: live.auth_methods.clone(),
        max_auth_tries: limits.max_auth_tries,
    };
    let mut session = ServerSession::new(settings, start);
    let (ev_tx, mut ev_rx) = mpsc::channel::<(u64, ExecEvent)>(EVENT_QUEUE);
    let mut procs: HashMap<u64, ExecHandle> = HashMap::new();
    let mut checks: JoinSet<(u64, Checked)> = JoinSet::new();
    let mut who: Option<Requester> = None;
    // The authenticated-connection slot and the user's connection budget,
    // once earned.
    let mut slot: Option<Slot> = None;
    // Each running command's unit of its user's command budget.
    let mut running: HashMap<u64, Held> = HashMap::new();
    // A password being verified on the pool: (user, verdict).
    let mut checking: Option<tokio::task::JoinHandle<(String, Proof)>> = None;
    let mut stop = shared.stop.clone();
    let mut writer_done = false;
    let reason = 'conn: loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Send(m, body) => {
                    if let (
                        Message::Exit {
                            id,
                            code,
                            signal,
                            timed_out,
                            duration_ms,
                        },
                        Some(w),
                    ) = (&m, &who)
                    {
                        tracing::info!(%peer, user = %w.user, id, ?code, ?signal, timed_out,
                            ms = duration_ms, "exited");
                    }
                    if out_tx.send((m, body)).await.is_err() {
                        session.handle_peer_closed();
                    }
                }
                Action::Verify {
                    user,
                    proof,
                    proven,
                } => match proof {
                    AuthProof::Key { signature } => {
                        let v =
                            super::auth::key(&live, peer, &user, &signature, &exporter, &proven);
                        verdict_in(
                            &mut session,
                            &shared,
                            &live,
                            &mut ticket,
                            &mut slot,
                            &user,
                            v,
                            peer,
                        );
                    }
                    AuthProof::Password { password } => {
                        let (pool, live) = (shared.passwords.clone(), live.clone());
                        checking = Some(tokio::spawn(async move {
                            let v = super::auth::password(
                                pool,
                                live,
                                peer,
                                user.clone(),
                                password,
                                proven,
                            )
                            .await;
                            (user, v)
                        }));
                    }
                },
                Action::Authenticated { user } => {
                    reader.set_max_body(MAX_BODY_LEN);
                    reader.release_idle();
                    if let Some(u) = live.config.users.get(&user) {
                        session.set_stdin_budget(u.limits.stdin_buffer);
                    }
                    who = Some(Requester {
                        shared: shared.clone(),
                        live: live.clone(),
                        user: user.into(),
                        peer,
                    });
                }
                Action::Exec {
                    id,
                    argv,
                    stdin,
                    timeout_ms,
                } => {
                    let w = who.clone().expect("exec only after authentication");
                    let max = live
                        .config
                        .users
                        .get(&*w.user)
                        .map_or(0, |u| u.limits.max_commands);
                    match shared.budgets.command(&w.user, max) {
                        Some(held) => {
                            running.insert(id, held);
                            checks.spawn_blocking(move || (id, w.check(argv, stdin, timeout_ms)));
                        }
                        None => {
                            tracing::info!(%peer, user = %w.user, id, max, "busy: max_commands_per_user reached");
                            let message = format!(
                                "busy: {max} commands of this user are running (max_commands_per_user)"
                            );
                            session.handle_exec_event(
                                id,
                                ExecEvent::Busy { message },
                                Instant::now(),
                            );
                        }
                    }
                }
                Action::Stdin { id, data } => {
                    if let Some(p) = procs.get(&id) {
                        p.push_stdin(&data);
                    }
                }
                Action::StdinEof { id } => {
                    if let Some(p) = procs.get(&id) {
                        p.close_stdin();
                    }
                }
                Action::OutputTaken { id, stream } => {
                    if let Some(p) = procs.get(&id) {
                        p.output_taken(stream);
                    }
                }
                Action::Stop { id, reason } => {
                    if let Some(p) = procs.get_mut(&id) {
                        tracing::info!(%peer, id, ?reason, "stopping command");
                        p.stop();
                    }
                }
                Action::Close(reason) => break 'conn reason,
            }
        }
        let wake = session.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            frame = reader.read_frame() => match frame {
                Ok(Some(frame)) => session.handle_frame(frame, Instant::now()),
                Ok(None) => session.handle_peer_closed(),
                Err(TransportError::Frame(e)) => session.handle_decode_error(&e),
                Err(e) => {
                    tracing::debug!(%peer, "connection lost: {e}");
                    session.handle_peer_closed();
                }
            },
            done = async { checking.as_mut().expect("guarded").await }, if checking.is_some() => {
                checking = None;
                let (user, v) = done.unwrap_or_else(|_| {
                    let failure = Some("the password check did not finish".to_string());
                    let verdict = AuthVerdict::Failed;
                    (String::new(), Proof { verdict, failure })
                });
                verdict_in(&mut session, &shared, &live, &mut ticket, &mut slot, &user, v, peer);
            }
            Some((id, event)) = ev_rx.recv() => {
                if matches!(event, ExecEvent::Exited(_)) {
                    procs.remove(&id);
                    running.remove(&id);
                }
                session.handle_exec_event(id, event, Instant::now());
            }
            Some(done) = checks.join_next() => {
                let (id, checked) = match done {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::error!(%peer, "allowlist check failed: {e}");
                        continue;
                    }
                };
                let event = spawn(checked, id, &ev_tx, &mut procs, peer);
                if !matches!(event, ExecEvent::Started { .. }) {
                    running.remove(&id);
                }
                session.handle_exec_event(id, event, Instant::now());
            }
            // Disabled (never polled) while there is no deadline.
            _ = tokio::time::sleep_until(wake.unwrap_or_else(tokio::time::Instant::now)),
                if wake.is_some() => session.handle_timeout(Instant::now()),
            _ = stopped(&mut stop) => session.shutdown(),
            _ = &mut write_task => {
                writer_done = true;
                session.handle_peer_closed();
            }
        }
    };
    // Stop every command still running (dropping a handle stops it), then
    // let the writer flush what is queued, the fatal error last.
    if let Some(c) = checking {
        c.abort();
    }
    drop(procs);
    drop(running);
    drop(ev_rx);
    drop(out_tx);
    if !writer_done
        && tokio::time::timeout(FLUSH_GRACE, &mut write_task)
            .await
            .is_err()
    {
        write_task.abort();
    }
    // What the source did wrong, for its penalty.
    let failures = session.auth_failures();
    if failures > 0 {
        door.penalise(peer.ip(), Offence::AuthFailure, failures);
    } else if who.is_none() {
        let offence = match &reason {
            CloseReason::Protocol(_) => {
                door.tally.note(Event::ProtocolError, ticket.source());
                Offence::ProtocolError
            }
            _ => Offence::NoAuth,
        };
        door.penalise(peer.ip(), offence, 1);
    }
    drop(slot);
    let user = who.map(|w| w.user);
    match reason {
        CloseReason::PeerClosed => tracing::debug!(%peer, ?user, "connection closed"),
        other => tracing::info!(%peer, ?user, reason = ?other, "connection closed"),
    }
}

/// What a signed-in connection holds: a `max_connections` slot and a unit
/// of its user's connection budget.
struct Slot {
    _server: tokio::sync::OwnedSemaphorePermit,
    _user: Held,
}

/// Hand the verifier's answer to the session; a successful sign-in first
/// needs a free authenticated-connection slot and room in the user's
/// connection budget.
#[allow(clippy::too_many_arguments)]
fn verdict_in(
    session: &mut ServerSession,
    shared: &Shared,
    live: &Live,
    ticket: &mut Ticket,
    slot: &mut Option<Slot>,
    user: &str,
    proof: Proof,
    peer: SocketAddr,
) {
    let Proof { verdict, failure } = proof;
    if let Some(reason) = failure {
        if shared.door.tally.note(Event::AuthFailed, ticket.source()) {
            tracing::warn!(%peer, "authentication failed: {reason}");
        }
    }
    if matches!(verdict, AuthVerdict::Ok { .. }) {
        let Ok(server) = shared.sessions.clone().try_acquire_owned() else {
            if shared.door.tally.note(Event::Busy, ticket.source()) {
                tracing::warn!(%peer, "authenticated, but max_connections is reached; closing");
            }
            return session.reject_busy("the server has too many connections; retry later");
        };
        let max = live
            .config
            .users
            .get(user)
            .map_or(0, |u| u.limits.max_connections);
        let Some(held) = shared.budgets.connection(&Arc::from(user), max) else {
            tracing::info!(%peer, user = %user, max, "busy: max_connections_per_user reached");
            return session.reject_busy(&format!(
                "busy: this user has {max} connections open (max_connections_per_user)"
            ));
        };
        *slot = Some(Slot {
            _server: server,
            _user: held,
        });
        ticket.release();
    }
    session.handle_auth_result(user, verdict, Instant::now());
}

/// Tell a penalised source when to come back, then close.
async fn refuse_rate_limited<S>(tls: S, retry_after: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let secs = retry_after.as_secs().max(1);
    let error = Message::Error {
        id: None,
        code: ErrorCode::RateLimited,
        message: format!("too many failures from this address; retry in {secs} s"),
        retry_after_ms: Some(retry_after.as_millis() as u64),
    };
    let (_rd, wr) = tokio::io::split(tls);
    let mut writer = FrameWriter::new(wr);
    let _ = tokio::time::timeout(FLUSH_GRACE, async {
        writer.send(&error, &[]).await?;
        writer.flush().await?;
        writer.shutdown().await
    })
    .await;
}

/// Start an allowed command; the event to give the session.
fn spawn(
    checked: Checked,
    id: u64,
    events: &mpsc::Sender<(u64, ExecEvent)>,
    procs: &mut HashMap<u64, ExecHandle>,
    peer: SocketAddr,
) -> ExecEvent {
    let Checked::Allowed {
        rule,
        spec,
        timeout,
    } = checked
    else {
        return ExecEvent::Denied {
            message: "no rule in the server's allowlist permits this command".into(),
        };
    };
    match crate::exec::start(&spec, id, events.clone()) {
        Ok(handle) => {
            let argv = crate::logtext::argv(&spec.argv);
            tracing::info!(%peer, id, %rule, %argv, "started");
            procs.insert(id, handle);
            ExecEvent::Started { timeout }
        }
        Err(e) => {
            tracing::error!(%peer, id, %rule, "exec failed: {e}");
            ExecEvent::Failed
        }
    }
}

/// Completes once the server's drain period is over.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        // The server is gone without asking us to stop: keep serving.
        std::future::pending::<()>().await;
    }
}
