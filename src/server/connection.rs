//! One accepted TCP connection from start to end: the TLS handshake within
//! the auth deadline, ALPN, a penalised source's refusal, then the
//! [`ServerSession`] driven by [`Conn`](super::conn::Conn) until it closes.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::conn::{Conn, FLUSH_GRACE};
use super::door::Ticket;
use super::tally::Event as Tallied;
use super::Shared;
use crate::audit::Event;
use crate::gate::{Offence, Verdict};
use crate::proto::ALPN;
use crate::readahead::ReadAhead;
use crate::session::{ServerSession, ServerSettings};
use crate::transport::{FrameReader, FrameWriter};

/// Frames queued for the writer task. Data in it is bounded by the output
/// windows the client granted.
const OUT_QUEUE: usize = 64;

/// Serve one accepted TCP connection to its end. `ticket` holds its
/// unauthenticated slot; `verdict` says whether its source is penalised.
pub(crate) async fn run(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    ticket: Ticket,
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
            if door.tally.note(Tallied::TlsFailed, ticket.source()) {
                tracing::info!(%peer, "TLS handshake failed: {e}");
            }
            return door.penalise(peer.ip(), Offence::NoAuth, 1);
        }
        Err(_) => {
            if door.tally.note(Tallied::TlsFailed, ticket.source()) {
                tracing::info!(%peer, "TLS handshake timed out");
            }
            return door.penalise(peer.ip(), Offence::NoAuth, 1);
        }
    };
    // At least one round trip (the client's first flight to its Finished).
    let handshake_time = start.elapsed();
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
        if door.tally.note(Tallied::RateLimited, ticket.source()) {
            tracing::info!(%peer, "refused: source penalised for repeated failures");
        }
        shared.metrics.rate_limited.inc();
        return super::admit::refuse_rate_limited(tls, retry_after).await;
    }
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    shared.audit.record(Event::ConnectionAccepted {
        conn: id,
        peer: peer.to_string(),
    });
    shared.metrics.connections.inc();
    shared.metrics.connections_open.inc();
    let (rd, wr) = tokio::io::split(tls);
    let mut reader = FrameReader::new(rd);
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
        rtt_hint: Some(handshake_time),
    };
    let session = ServerSession::new(settings, start);
    // The engine's body limit for its state (none before sign-in).
    reader.set_max_body(session.max_body());
    let live = live.clone();
    let (mut conn, mut ev_rx) = Conn::new(
        shared, live, peer, id, start, ticket, exporter, session, out_tx,
    );
    let (reason, writer_done) = conn.drive(&mut reader, &mut ev_rx, &mut write_task).await;
    drop(ev_rx);
    conn.finish(reason, writer_done, write_task).await;
}
