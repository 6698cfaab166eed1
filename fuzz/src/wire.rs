//! The wire format: the incremental frame decoder over arbitrary byte
//! streams cut at arbitrary points, and single JSON headers.

use bytes::BytesMut;
use secsh::proto::{encode_header, parse_header, Decoder, Frame, FrameError, Message};

/// Encode `frame` as the sender would.
fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    encode_header(&frame.message, &mut out).expect("a decoded header encodes");
    out.extend_from_slice(&frame.body);
    out
}

/// Decode a whole stream fed in chunks of `step` bytes: every frame found
/// re-encodes to bytes that decode to the same frame, its body has the
/// announced length, its `wire_len` is exactly the bytes the decoder took
/// for it, and the decoder never reserves past the limits.
pub fn frame_decoder(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(first & 0x3f) + 1;
    let mut decoder = Decoder::new();
    if first & 0x40 != 0 {
        decoder.set_max_body(64 * 1024);
    }
    let mut buf = BytesMut::new();
    // Bytes fed so far, and where the last frame ended.
    let (mut fed, mut taken) = (0, 0);
    for chunk in stream.chunks(step) {
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert_eq!(frame.body.len(), frame.message.body_len());
                    let end = fed - buf.len();
                    assert_eq!(frame.wire_len, end - taken, "wire_len is what was read");
                    taken = end;
                    // The same frame, though perhaps spelt with fewer bytes.
                    let bytes = encode(&frame);
                    let again = decode_one(&bytes).expect("re-encoded frame decodes");
                    assert_eq!(again.wire_len, bytes.len());
                    let same = (&again.message, &again.body) == (&frame.message, &frame.body);
                    assert!(same, "frame round trip: {again:?} != {frame:?}");
                }
                Ok(None) => {
                    // Never more than one frame's worth held or reserved.
                    assert!(buf.capacity() <= 2 * (4 + 64 * 1024 + 1024 * 1024) + stream.len());
                    break;
                }
                Err(e) => {
                    check_error(&e);
                    return;
                }
            }
        }
    }
}

fn decode_one(bytes: &[u8]) -> Result<Frame, FrameError> {
    let mut buf = BytesMut::from(bytes);
    let frame = Decoder::new().decode(&mut buf)?.expect("whole frame");
    assert!(buf.is_empty(), "one frame, nothing left over");
    Ok(frame)
}

/// Errors are told to the peer: their text must be bounded and the code
/// stable.
fn check_error(e: &FrameError) {
    let text = e.wire_message();
    assert!(text.len() <= 1024, "wire message too long: {}", text.len());
    let _ = e.code().as_str();
}

/// One JSON header: a parsed message re-encodes and parses to itself and
/// names a known type; a refused one has a bounded error.
pub fn message(data: &[u8]) {
    match parse_header(data) {
        Ok(m) => {
            assert!(Message::TYPE_NAMES.contains(&m.type_name()));
            let mut out = Vec::new();
            encode_header(&m, &mut out).expect("a parsed header encodes");
            let again = parse_header(&out[4..]).expect("an encoded header parses");
            assert_eq!(again, m, "message round trip");
        }
        Err(e) => check_error(&e),
    }
}
