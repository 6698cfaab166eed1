//! Admission decisions around the session: the slot a signed-in connection
//! holds (server-wide and in its user's budget), and the refusal a
//! penalised source gets instead of a session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::budget::Held;
use super::conn::FLUSH_GRACE;
use super::door::Ticket;
use super::tally::Event;
use super::{Live, Shared};
use crate::proto::{ErrorCode, Message};
use crate::transport::FrameWriter;

/// What a signed-in connection holds: a `max_connections` slot and a unit
/// of its user's connection budget.
pub(crate) struct Slot {
    _server: tokio::sync::OwnedSemaphorePermit,
    _user: Held,
}

/// The slot for `user` signing in, or the `busy` message.
pub(crate) fn slot(
    shared: &Shared,
    live: &Live,
    ticket: &Ticket,
    user: &str,
    peer: SocketAddr,
) -> Result<Slot, String> {
    let Ok(server) = shared.sessions.clone().try_acquire_owned() else {
        if shared.door.tally.note(Event::Busy, ticket.source()) {
            tracing::warn!(%peer, "authenticated, but max_connections is reached; closing");
        }
        return Err("the server has too many connections; retry later".into());
    };
    let max = live
        .config
        .users
        .get(user)
        .map_or(0, |u| u.limits.max_connections);
    let Some(held) = shared.budgets.connection(&Arc::from(user), max) else {
        tracing::info!(%peer, user = %user, max, "busy: max_connections_per_user reached");
        return Err(format!(
            "busy: this user has {max} connections open (max_connections_per_user)"
        ));
    };
    Ok(Slot {
        _server: server,
        _user: held,
    })
}

/// Tell a penalised source when to come back, then close.
pub(crate) async fn refuse_rate_limited<S>(tls: S, retry_after: Duration)
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
