use super::*;
use crate::proto::{Stream, MAX_BODY_LEN, MAX_HEADER_LEN};

fn encode(message: &Message, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_header(message, &mut out).unwrap();
    out.extend_from_slice(body);
    out
}

#[test]
fn golden_ping() {
    let bytes = encode(&Message::Ping, b"");
    assert_eq!(bytes, b"\x00\x00\x00\x0f{\"type\":\"ping\"}");
}

#[test]
fn golden_data_frame() {
    let msg = Message::Data {
        id: 1,
        stream: Stream::Stdout,
        len: 3,
    };
    let bytes = encode(&msg, b"hi\n");
    let header = br#"{"type":"data","id":1,"stream":"stdout","len":3}"#;
    let mut want = (header.len() as u32).to_be_bytes().to_vec();
    want.extend_from_slice(header);
    want.extend_from_slice(b"hi\n");
    assert_eq!(bytes, want);
    let mut buf = BytesMut::from(&bytes[..]);
    let frame = Decoder::new().decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.message, msg);
    assert_eq!(&frame.body[..], b"hi\n");
    assert!(buf.is_empty());
}

#[test]
fn golden_exit_omits_absent_fields() {
    let msg = Message::Exit {
        id: 7,
        code: Some(3),
        signal: None,
        timed_out: false,
        duration_ms: 12,
    };
    let bytes = encode(&msg, b"");
    assert_eq!(
        &bytes[4..],
        br#"{"type":"exit","id":7,"code":3,"timed_out":false,"duration_ms":12}"#
    );
}

#[test]
fn decodes_byte_by_byte_and_back_to_back() {
    let mut stream = encode(&Message::Ping, b"");
    stream.extend(encode(
        &Message::Data {
            id: 2,
            stream: Stream::Stderr,
            len: 4,
        },
        &[0, 255, 10, 13],
    ));
    stream.extend(encode(&Message::Pong, b""));
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for byte in stream {
        buf.extend_from_slice(&[byte]);
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            frames.push(frame);
        }
    }
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].message, Message::Ping);
    assert_eq!(&frames[1].body[..], &[0, 255, 10, 13]);
    assert_eq!(frames[2].message, Message::Pong);
    assert!(decoder.at_boundary());
}

#[test]
fn incomplete_is_not_an_error() {
    let bytes = encode(
        &Message::Data {
            id: 1,
            stream: Stream::Stdin,
            len: 10,
        },
        &[1; 10],
    );
    for cut in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(Decoder::new().decode(&mut buf), Ok(None), "cut at {cut}");
    }
}

#[test]
fn oversized_header_rejected_from_prefix_without_allocating() {
    let mut buf = BytesMut::from(&((MAX_HEADER_LEN as u32 + 1).to_be_bytes())[..]);
    let cap = buf.capacity();
    assert_eq!(
        Decoder::new().decode(&mut buf),
        Err(FrameError::HeaderTooLarge(MAX_HEADER_LEN + 1))
    );
    assert_eq!(buf.capacity(), cap);
    let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
    assert_eq!(
        Decoder::new().decode(&mut buf).unwrap_err().code(),
        ErrorCode::TooLarge
    );
}

#[test]
fn oversized_body_rejected_from_header() {
    for len in [MAX_BODY_LEN as u64 + 1, u32::MAX as u64, u64::MAX] {
        let header = format!(r#"{{"type":"data","id":1,"stream":"stdin","len":{len}}}"#);
        let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        let mut buf = BytesMut::from(&bytes[..]);
        let err = Decoder::new().decode(&mut buf).unwrap_err();
        assert_eq!(err, FrameError::BodyTooLarge(len), "len {len}");
        assert_eq!(err.code(), ErrorCode::TooLarge);
    }
}

fn decode_header(header: &[u8]) -> Result<Option<Frame>, FrameError> {
    let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(header);
    Decoder::new().decode(&mut BytesMut::from(&bytes[..]))
}

#[test]
fn malformed_headers() {
    let cases: &[(&[u8], ErrorCode)] = &[
        (b"not json", ErrorCode::Protocol),
        (b"[1,2]", ErrorCode::Protocol),
        (
            br#"["exec",1,["/bin/echo","hello"],false]"#,
            ErrorCode::Protocol,
        ),
        (br#"  ["ping"]"#, ErrorCode::Protocol),
        (br#""ping""#, ErrorCode::Protocol),
        (br#"{"id":1}"#, ErrorCode::Protocol),
        (br#"{"type":5}"#, ErrorCode::Protocol),
        (br#"{"type":"launch_missiles"}"#, ErrorCode::UnknownType),
        (br#"{"type":"exec","id":"x"}"#, ErrorCode::Protocol),
        (
            br#"{"type":"data","id":1,"stream":"stdsideways","len":0}"#,
            ErrorCode::Protocol,
        ),
    ];
    for (header, code) in cases {
        let err = decode_header(header).unwrap_err();
        assert_eq!(
            err.code(),
            *code,
            "{}: {err}",
            String::from_utf8_lossy(header)
        );
    }
    assert_eq!(
        decode_header(b"").unwrap_err(),
        FrameError::EmptyHeader,
        "zero-length header"
    );
    assert!(matches!(
        decode_header(br#"{"type":"launch_missiles"}"#),
        Err(FrameError::UnknownType(t)) if t == "launch_missiles"
    ));
}

#[test]
fn unknown_fields_are_ignored() {
    let frame = decode_header(br#"{"type":"ping","future":true}"#)
        .unwrap()
        .unwrap();
    assert_eq!(frame.message, Message::Ping);
}

#[test]
fn encode_refuses_oversized_header() {
    let msg = Message::Exec {
        id: 1,
        argv: vec!["x".repeat(MAX_HEADER_LEN)],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    };
    let mut out = vec![9];
    assert!(matches!(
        encode_header(&msg, &mut out),
        Err(FrameError::HeaderTooLarge(_))
    ));
    assert_eq!(out, vec![9]);
}

#[test]
fn a_header_must_be_an_object_even_when_serde_would_take_an_array() {
    let err = decode_header(br#"["exec",1,["/bin/echo","hello"],false]"#).unwrap_err();
    assert_eq!(err, FrameError::NotObject);
    assert_eq!(err.wire_message(), "header is not a JSON object");
    assert_eq!(decode_header(b"{").unwrap_err(), FrameError::NotJson);
}

#[test]
fn wire_messages_are_stable_and_free_of_parser_text() {
    let err = decode_header(br#"{"type":"exec","id":"x"}"#).unwrap_err();
    assert!(
        matches!(&err, FrameError::InvalidMessage { detail, .. } if detail.contains("invalid type"))
    );
    assert_eq!(err.wire_message(), "invalid exec message");
    assert_eq!(
        decode_header(br#"{"type":"nope"}"#)
            .unwrap_err()
            .wire_message(),
        "unknown message type"
    );
    assert_eq!(
        decode_header(br#"{"id":1}"#).unwrap_err().wire_message(),
        "header has no string type"
    );
}

#[test]
fn state_body_limit_is_checked_from_the_header() {
    let bytes = encode(
        &Message::Data {
            id: 1,
            stream: Stream::Stdin,
            len: 1,
        },
        b"x",
    );
    let mut d = Decoder::new();
    d.set_max_body(0);
    let err = d.decode(&mut BytesMut::from(&bytes[..])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooLarge);
    assert!(err.wire_message().contains("before authentication"));
}

#[test]
fn a_decoded_password_leaves_no_copy_in_the_read_buffer() {
    let auth = Message::Auth {
        user: "carol".into(),
        method: crate::proto::AuthMethod::Password,
        signature: None,
        password: Some(crate::proto::Secret::new("hunter2-correct".into())),
        certificate: None,
    };
    let mut bytes = encode(&auth, &[]);
    bytes.extend(encode(&Message::Ping, &[]));
    let mut buf = BytesMut::from(&bytes[..]);
    let base = buf.as_ptr();
    let mut d = Decoder::new();
    assert_eq!(d.decode(&mut buf).unwrap().unwrap().message, auth);
    // The consumed header bytes are still in the allocation: all zero now.
    let consumed = bytes.len() - buf.len();
    // SAFETY: `base..base+consumed` is the part of the same allocation that
    // `advance` skipped; BytesMut does not free it while `buf` lives.
    let old = unsafe { std::slice::from_raw_parts(base, consumed) };
    assert!(
        !old.windows(7).any(|w| w == b"hunter2"),
        "password left in the buffer"
    );
    assert_eq!(d.decode(&mut buf).unwrap().unwrap().message, Message::Ping);
}

#[test]
fn every_type_name_is_known_to_the_error_classifier() {
    let samples = [
        Message::Ping,
        Message::List { id: 1 },
        Message::Commands {
            id: 1,
            commands: vec![],
        },
        Message::Put {
            id: 1,
            path: "/srv/drop/a".into(),
            name: None,
            size: Some(3),
            mode: Some(0o640),
            resume: false,
        },
        Message::PutReady {
            id: 1,
            window: 10,
            offset: 0,
            prefix_blake3: None,
        },
        Message::PutOk {
            id: 1,
            size: 3,
            blake3: "ab".into(),
        },
        Message::Get {
            id: 1,
            path: "a".into(),
            offset: None,
            prefix_blake3: None,
            output_window: Some(5),
        },
        Message::File {
            id: 1,
            size: 3,
            mode: 0o644,
            offset: 0,
        },
        Message::End {
            id: 1,
            size: 3,
            blake3: "ab".into(),
        },
    ];
    for m in samples {
        assert!(
            Message::TYPE_NAMES.contains(&m.type_name()),
            "{}",
            m.type_name()
        );
        let mut out = Vec::new();
        encode_header(&m, &mut out).unwrap();
        let frame = Decoder::new()
            .decode(&mut BytesMut::from(&out[..]))
            .unwrap()
            .unwrap();
        assert_eq!(frame.message, m);
    }
    // A put with a field of the wrong type is an invalid put, not an
    // unknown type.
    let e = decode_header(br#"{"type":"put","id":1,"path":7}"#).unwrap_err();
    assert!(matches!(e, FrameError::InvalidMessage { .. }), "{e:?}");
}

#[test]
fn duplicate_members_are_a_fatal_protocol_error() {
    for h in [
        r#"{"type":"ping","type":"ping"}"#,
        r#"{"type":"exec","id":1,"id":2,"argv":["x"],"stdin":false}"#,
        r#"{"type":"cancel","id":1,"id":2}"#,
    ] {
        let e = parse_header(h.as_bytes()).unwrap_err();
        assert!(matches!(e, FrameError::InvalidMessage { .. }), "{h}: {e:?}");
        assert_eq!(e.code(), ErrorCode::Protocol, "{h}");
    }
}
