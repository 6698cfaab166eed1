//! One connection: TLS handshake and key authentication within the auth
//! deadline, then the request loop. This is the one place that maps frames
//! to domain calls (auth, policy, exec).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::ReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

use super::request::{self, Entry};
use super::Shared;
use crate::auth::verify_key_auth;
use crate::exec::Outbound;
use crate::proto::{ErrorCode, Frame, Message, Stream, ALPN};
use crate::readahead::ReadAhead;
use crate::transport::{FrameReader, FrameWriter, TransportError};

type Reader = FrameReader<ReadHalf<TlsStream<ReadAhead<TcpStream>>>>;

/// Frames queued for the writer, per connection.
const OUT_QUEUE: usize = 32;
/// How long a closing session waits to flush its last frames.
const FLUSH_GRACE: Duration = Duration::from_secs(2);

fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Message {
    Message::Error {
        id,
        code,
        message: message.into(),
    }
}

/// Serve one accepted TCP connection to its end.
pub(crate) async fn run(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let deadline = Instant::now() + shared.config.limits.auth_timeout;
    let mut tls = match tokio::time::timeout_at(
        deadline,
        shared.acceptor.accept(ReadAhead::new(tcp)),
    )
    .await
    {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::info!(%peer, "TLS handshake failed: {e}"),
        Err(_) => return tracing::info!(%peer, "TLS handshake timed out"),
    };
    // Up to 1 MiB of outgoing records, so bulk output leaves in large writes.
    tls.get_mut().1.set_buffer_limit(Some(1 << 20));
    let conn = tls.get_ref().1;
    if conn.alpn_protocol() != Some(ALPN) {
        return tracing::info!(%peer, "client did not negotiate ALPN secsh/1");
    }
    let exporter = match crate::tls::auth_exporter(conn) {
        Ok(e) => e,
        Err(e) => return tracing::warn!(%peer, "TLS exporter failed: {e}"),
    };
    let (rd, wr) = tokio::io::split(tls);
    let mut reader = FrameReader::new(rd);
    let mut writer = FrameWriter::new(wr);

    let user = match authenticate(&mut reader, &shared, &exporter, deadline, peer).await {
        Ok(user) => user,
        Err(reply) => {
            let _ = writer.send(&reply, &[]).await;
            let _ = tokio::time::timeout(FLUSH_GRACE, writer.shutdown()).await;
            return;
        }
    };
    reader.release_idle();
    let ok = Message::AuthOk { user: user.clone() };
    if writer.send(&ok, &[]).await.is_err() || writer.flush().await.is_err() {
        return;
    }
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let mut write_task = tokio::spawn(crate::transport::write_queue(writer, out_rx));
    let mut execs = JoinSet::new();
    let mut live: HashMap<u64, Entry> = HashMap::new();
    let cx = request::Cx {
        shared: &shared,
        user: &user,
        peer,
    };
    let mut writer_done = false;
    let mut stop = shared.stop.clone();
    let fatal = loop {
        tokio::select! {
            frame = reader.read_frame() => match frame {
                Ok(Some(frame)) => {
                    if let Err(reply) = dispatch(&cx, frame, &mut live, &mut execs, &out_tx).await {
                        break Some(reply);
                    }
                }
                Ok(None) => break None,
                Err(TransportError::Frame(e)) => {
                    tracing::info!(%peer, %user, "protocol error: {e}");
                    break Some(error(None, e.code(), e.to_string()));
                }
                Err(e) => {
                    tracing::info!(%peer, %user, "connection lost: {e}");
                    break None;
                }
            },
            Some(done) = execs.join_next() => {
                if let Ok(id) = done {
                    live.remove(&id);
                }
            }
            _ = stopped(&mut stop) => {
                tracing::info!(%peer, %user, "closing: server shutting down");
                break Some(error(None, ErrorCode::ShuttingDown, "the server is shutting down"));
            }
            _ = &mut write_task => {
                writer_done = true;
                break None;
            }
        }
    };
    // Stop every command still running (dropping an entry cancels it),
    // then let the writer flush what is queued, the fatal error last.
    live.clear();
    if let Some(reply) = fatal {
        let _ = tokio::time::timeout(FLUSH_GRACE, out_tx.send((reply, Bytes::new()))).await;
    }
    drop(out_tx);
    if !writer_done
        && tokio::time::timeout(FLUSH_GRACE, &mut write_task)
            .await
            .is_err()
    {
        write_task.abort();
    }
    while execs.join_next().await.is_some() {}
    tracing::debug!(%peer, %user, "connection closed");
}

async fn authenticate(
    reader: &mut Reader,
    shared: &Shared,
    exporter: &[u8; 32],
    deadline: Instant,
    peer: SocketAddr,
) -> Result<String, Message> {
    let frame = match tokio::time::timeout_at(deadline, reader.read_frame()).await {
        Err(_) => {
            tracing::info!(%peer, "no authentication before the deadline");
            return Err(error(
                None,
                ErrorCode::Timeout,
                "authentication deadline passed",
            ));
        }
        Ok(Ok(Some(frame))) => frame,
        Ok(Ok(None)) | Ok(Err(TransportError::Io(_) | TransportError::Truncated)) => {
            return Err(error(
                None,
                ErrorCode::Protocol,
                "connection closed before auth",
            ));
        }
        Ok(Err(TransportError::Frame(e))) => {
            tracing::info!(%peer, "protocol error before auth: {e}");
            return Err(error(None, e.code(), e.to_string()));
        }
    };
    let Message::Auth {
        user, signature, ..
    } = frame.message
    else {
        return Err(error(
            None,
            ErrorCode::UnexpectedMessage,
            format!(
                "the first message must be auth, not {}",
                frame.message.type_name()
            ),
        ));
    };
    let keys = shared.config.users.get(&user).map(|u| u.keys.as_slice());
    match verify_key_auth(&user, keys, exporter, &signature) {
        Ok(key) => {
            let fp = key.fingerprint(Default::default());
            tracing::info!(%peer, %user, key = %fp, "authenticated");
            Ok(user)
        }
        Err(e) => {
            tracing::warn!(%peer, user = %user.escape_debug(), "authentication failed: {e}");
            Err(error(None, ErrorCode::AuthFailed, "authentication failed"))
        }
    }
}

/// Handle one frame after auth. `Err` carries a fatal error reply.
async fn dispatch(
    cx: &request::Cx<'_>,
    frame: Frame,
    live: &mut HashMap<u64, Entry>,
    execs: &mut JoinSet<u64>,
    out: &mpsc::Sender<Outbound>,
) -> Result<(), Message> {
    let send = |m: Message| async move {
        // A closed queue means the writer is gone; the loop notices.
        let _ = out.send((m, Bytes::new())).await;
    };
    match frame.message {
        Message::Exec {
            id,
            argv,
            stdin,
            timeout_ms,
        } => {
            if live.contains_key(&id) {
                send(error(
                    Some(id),
                    ErrorCode::BadRequest,
                    "request id already in use",
                ))
                .await;
            } else if live.len() >= cx.shared.config.limits.max_requests_per_connection {
                send(error(
                    Some(id),
                    ErrorCode::Busy,
                    "too many requests on this connection",
                ))
                .await;
            } else if let Some(entry) = cx.start_exec(id, argv, stdin, timeout_ms, execs, out).await
            {
                live.insert(id, entry);
            }
        }
        Message::Data {
            id,
            stream: Stream::Stdin,
            ..
        } => {
            // Data for a request that already ended is a normal race.
            if let Some(entry) = live.get(&id) {
                entry
                    .push_stdin(&frame.body)
                    .map_err(|e| error(None, ErrorCode::Protocol, e.to_string()))?;
            }
        }
        Message::Eof {
            id,
            stream: Stream::Stdin,
        } => {
            if let Some(entry) = live.get(&id) {
                entry.close_stdin();
            }
        }
        Message::Cancel { id } => {
            if let Some(entry) = live.get_mut(&id) {
                entry.cancel();
            }
        }
        Message::Ping => send(Message::Pong).await,
        Message::Pong => {}
        other => {
            return Err(error(
                None,
                ErrorCode::UnexpectedMessage,
                format!("unexpected {} message from a client", other.type_name()),
            ))
        }
    }
    Ok(())
}

/// Completes once the server's drain period is over.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        // The server is gone without asking us to stop: keep serving.
        std::future::pending::<()>().await;
    }
}
