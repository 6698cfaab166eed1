//! Frame codec: `u32 BE header_len | JSON header | body of header.len bytes`.
//!
//! Limits are enforced from the length prefix (header) and from the parsed
//! header (body) before any buffer grows to hold them.

use bytes::{Buf, Bytes, BytesMut};

use super::{ErrorCode, Message, MAX_BODY_LEN, MAX_HEADER_LEN, PREFIX_LEN};

/// A decoded frame: the typed header and its body (empty for most types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The parsed header.
    pub message: Message,
    /// Exactly `message.body_len()` bytes.
    pub body: Bytes,
    /// Bytes this frame took on the wire: prefix, header and body (what
    /// the decoder read; the pre-auth queue is bounded by it).
    pub wire_len: usize,
}

impl Frame {
    /// A frame as an encoder would write it (`wire_len` from the encoded
    /// header): for tests and in-memory peers.
    pub fn new(message: Message, body: Bytes) -> Self {
        let mut header = Vec::new();
        let header_len = match encode_header(&message, &mut header) {
            Ok(()) => header.len(),
            Err(_) => PREFIX_LEN + MAX_HEADER_LEN,
        };
        let wire_len = header_len + body.len();
        Self {
            message,
            body,
            wire_len,
        }
    }
}

/// Why bytes could not be decoded into a frame. Every variant is fatal to the
/// connection: after it the stream position is unknown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix announces a header over [`MAX_HEADER_LEN`].
    #[error("header length {0} exceeds the limit of {MAX_HEADER_LEN} bytes")]
    HeaderTooLarge(usize),
    /// The header announces a body over [`MAX_BODY_LEN`].
    #[error("body length {0} exceeds the limit of {MAX_BODY_LEN} bytes")]
    BodyTooLarge(u64),
    /// A body over the limit of the connection's current state (for
    /// example before authentication).
    #[error(
        "body length {len} exceeds the limit of {limit} bytes at this point of the conversation"
    )]
    BodyOverStateLimit {
        /// The announced length.
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// The length prefix is zero.
    #[error("empty header")]
    EmptyHeader,
    /// The header is not valid JSON.
    #[error("header is not valid JSON")]
    NotJson,
    /// The header is JSON but not an object (an array, a string, ...).
    #[error("header is not a JSON object")]
    NotObject,
    /// The header object has no string `type`.
    #[error("header has no string \"type\"")]
    NoType,
    /// The header's `type` is not a known message type.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The header is a known type but its fields are wrong.
    #[error("invalid {kind} message: {detail}")]
    InvalidMessage {
        /// The message type.
        kind: String,
        /// What serde said (for logs; never sent).
        detail: String,
    },
    /// A message could not be encoded (sender side only).
    #[error("cannot encode message: {0}")]
    Encode(String),
}

impl FrameError {
    /// The error code to send to the peer for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::HeaderTooLarge(_)
            | FrameError::BodyTooLarge(_)
            | FrameError::BodyOverStateLimit { .. } => ErrorCode::TooLarge,
            FrameError::UnknownType(_) => ErrorCode::UnknownType,
            _ => ErrorCode::Protocol,
        }
    }

    /// The stable text sent to the peer in the `error` frame (listed in
    /// docs/PROTOCOL.md). It never carries the JSON parser's wording.
    pub fn wire_message(&self) -> String {
        match self {
            FrameError::HeaderTooLarge(_) => {
                format!("header length exceeds the limit of {MAX_HEADER_LEN} bytes")
            }
            FrameError::BodyTooLarge(_) => {
                format!("body length exceeds the limit of {MAX_BODY_LEN} bytes")
            }
            FrameError::BodyOverStateLimit { limit, .. } => {
                format!("body length exceeds the limit of {limit} bytes before authentication")
            }
            FrameError::EmptyHeader => "empty header".into(),
            FrameError::NotJson => "header is not valid JSON".into(),
            FrameError::NotObject => "header is not a JSON object".into(),
            FrameError::NoType => "header has no string type".into(),
            FrameError::UnknownType(_) => "unknown message type".into(),
            FrameError::InvalidMessage { kind, .. } => format!("invalid {kind} message"),
            FrameError::Encode(_) => "cannot encode message".into(),
        }
    }
}

/// Incremental decoder. Feed it a buffer that accumulates bytes from the
/// stream; it takes whole frames off the front and leaves partial ones.
#[derive(Debug)]
pub struct Decoder {
    /// A header already parsed whose body has not fully arrived.
    pending: Option<Message>,
    /// Prefix and header bytes of `pending`.
    pending_header: usize,
    /// Largest body accepted in the current state (at most [`MAX_BODY_LEN`]).
    max_body: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            pending: None,
            pending_header: 0,
            max_body: MAX_BODY_LEN,
        }
    }
}

impl Decoder {
    /// A decoder at a frame boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept bodies of at most `limit` bytes (capped at [`MAX_BODY_LEN`])
    /// from the next header on, e.g. a small limit before authentication.
    pub fn set_max_body(&mut self, limit: usize) {
        self.max_body = limit.min(MAX_BODY_LEN);
    }

    /// True when no partial frame has been consumed from the buffer.
    pub fn at_boundary(&self) -> bool {
        self.pending.is_none()
    }

    /// Take one frame off the front of `buf`. `Ok(None)` means more bytes are
    /// needed; the buffer is reserved up to the announced (checked) size.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.pending.is_none() {
            if buf.len() < PREFIX_LEN {
                return Ok(None);
            }
            let header_len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if header_len > MAX_HEADER_LEN {
                return Err(FrameError::HeaderTooLarge(header_len));
            }
            if header_len == 0 {
                return Err(FrameError::EmptyHeader);
            }
            let total = PREFIX_LEN + header_len;
            if buf.len() < total {
                buf.reserve(total - buf.len());
                return Ok(None);
            }
            let message = parse_header(&buf[PREFIX_LEN..total])?;
            if message.body_len() > self.max_body {
                return Err(FrameError::BodyOverStateLimit {
                    len: message.body_len() as u64,
                    limit: self.max_body,
                });
            }
            if matches!(
                message,
                Message::Auth {
                    password: Some(_),
                    ..
                }
            ) {
                // The password now lives in a zeroizing Secret; leave no
                // copy of it in the read buffer.
                buf[PREFIX_LEN..total].fill(0);
            }
            buf.advance(total);
            self.pending = Some(message);
            self.pending_header = total;
        }
        let body_len = self.pending.as_ref().map_or(0, Message::body_len);
        if buf.len() < body_len {
            buf.reserve(body_len - buf.len());
            return Ok(None);
        }
        let message = self.pending.take().expect("pending header");
        let body = buf.split_to(body_len).freeze();
        let wire_len = self.pending_header + body_len;
        Ok(Some(Frame {
            message,
            body,
            wire_len,
        }))
    }
}

/// Parse and check one JSON header. It must be a JSON object: serde's
/// derived decoder for a tagged enum would also take an array.
pub fn parse_header(bytes: &[u8]) -> Result<Message, FrameError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => FrameError::NotObject,
                Err(_) => FrameError::NotJson,
            },
        );
    }
    match serde_json::from_slice::<Message>(bytes) {
        Ok(message) => {
            let len = message.body_len();
            if len > MAX_BODY_LEN {
                return Err(FrameError::BodyTooLarge(len as u64));
            }
            Ok(message)
        }
        Err(err) => Err(classify(bytes, err)),
    }
}

/// Work out why a header failed to parse, for a precise error.
fn classify(bytes: &[u8], err: serde_json::Error) -> FrameError {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return FrameError::NotJson,
    };
    let Some(obj) = value.as_object() else {
        return FrameError::NotObject;
    };
    let Some(kind) = obj.get("type").and_then(|t| t.as_str()) else {
        return FrameError::NoType;
    };
    if let Some(len) = obj.get("len").and_then(|l| l.as_u64()) {
        if len > MAX_BODY_LEN as u64 {
            return FrameError::BodyTooLarge(len);
        }
    }
    if !Message::TYPE_NAMES.contains(&kind) {
        return FrameError::UnknownType(truncate(kind, 64));
    }
    FrameError::InvalidMessage {
        kind: truncate(kind, 64),
        detail: err.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Append the prefix and JSON header of `message` to `out`. The caller
/// appends exactly `message.body_len()` body bytes after it.
pub fn encode_header(message: &Message, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    serde_json::to_writer(&mut *out, message).map_err(|e| FrameError::Encode(e.to_string()))?;
    let header_len = out.len() - start - PREFIX_LEN;
    if header_len > MAX_HEADER_LEN {
        out.truncate(start);
        return Err(FrameError::HeaderTooLarge(header_len));
    }
    if message.body_len() > MAX_BODY_LEN {
        out.truncate(start);
        return Err(FrameError::BodyTooLarge(message.body_len() as u64));
    }
    out[start..start + PREFIX_LEN].copy_from_slice(&(header_len as u32).to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
