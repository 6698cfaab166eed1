//! The client state machine's file requests, frame by frame.

use bytes::Bytes;

use super::client_tests::T;
use super::*;
use crate::proto::{ErrorCode, Message, Stream};

fn put_params(resume: bool) -> PutSpec {
    PutSpec {
        path: "/srv/drop/f".into(),
        name: Some("f".into()),
        size: Some(10),
        mode: None,
        resume,
    }
}

fn closed_with_protocol_error(t: &mut T) -> bool {
    t.actions().iter().any(|a| {
        matches!(
            a,
            ClientAction::Send(
                Message::Error {
                    id: None,
                    code: ErrorCode::Protocol,
                    ..
                },
                _
            )
        )
    })
}

#[test]
fn put_waits_for_put_ready_then_sends_within_credit_and_ends_with_end() {
    let mut t = T::authed();
    let id = t.c.put(put_params(true));
    assert!(matches!(
        &t.sent()[..],
        [Message::Put {
            resume: true,
            size: Some(10),
            ..
        }]
    ));
    t.c.push_stdin(id, Bytes::from_static(b"0123456789"))
        .unwrap();
    t.c.finish_put(id, 10, "h".into()).unwrap();
    assert!(t.sent().is_empty(), "nothing before put_ready");
    t.recv(Message::PutReady {
        id,
        window: 6,
        offset: 0,
        prefix_blake3: None,
    });
    let acts = t.actions();
    assert!(matches!(&acts[0], ClientAction::PutReady { offset: 0, .. }));
    assert!(matches!(
        &acts[1],
        ClientAction::Send(
            Message::Data {
                len: 6,
                stream: Stream::Stdin,
                ..
            },
            _
        )
    ));
    assert_eq!(acts.len(), 2, "{acts:?}");
    t.recv(Message::Window { id, bytes: 6 });
    let sent = t.sent();
    assert!(
        matches!(
            &sent[..],
            [Message::Data { len: 4, .. }, Message::End { size: 10, .. }]
        ),
        "{sent:?}"
    );
    t.recv(Message::PutOk {
        id,
        size: 10,
        blake3: "h".into(),
    });
    assert!(matches!(
        &t.actions()[..],
        [ClientAction::Stored { size: 10, .. }]
    ));
    assert_eq!(t.c.live_requests(), 0);
}

#[test]
fn get_delivers_the_file_then_its_end() {
    let mut t = T::authed();
    let id = t.c.get(
        GetParams {
            path: "x".into(),
            resume_from: Some((5, "p".into())),
            output_window: 8,
        },
        t.t0,
    );
    let sent = t.sent();
    assert!(
        matches!(&sent[..], [Message::Get { offset: Some(5), prefix_blake3: Some(p), output_window: Some(8), .. }] if p == "p"),
        "{sent:?}"
    );
    t.recv(Message::File {
        id,
        size: 9,
        mode: 0o644,
        offset: 5,
    });
    assert!(matches!(
        &t.actions()[..],
        [ClientAction::FileOpened {
            offset: 5,
            size: 9,
            ..
        }]
    ));
    t.recv(Message::Data {
        id,
        stream: Stream::Stdout,
        len: 4,
    });
    assert!(matches!(&t.actions()[..], [ClientAction::Output { .. }]));
    t.recv(Message::End {
        id,
        size: 9,
        blake3: "h".into(),
    });
    assert!(matches!(
        &t.actions()[..],
        [ClientAction::FileEnd { size: 9, .. }]
    ));
    assert_eq!(t.c.live_requests(), 0);
}

#[test]
fn out_of_place_file_messages_are_protocol_errors() {
    // put_ok before the client's end.
    let mut t = T::authed();
    let id = t.c.put(put_params(false));
    t.recv(Message::PutReady {
        id,
        window: 6,
        offset: 0,
        prefix_blake3: None,
    });
    t.actions();
    t.recv(Message::PutOk {
        id,
        size: 0,
        blake3: "h".into(),
    });
    assert!(closed_with_protocol_error(&mut t));
    // data beyond the window, file twice, exit for a get, stderr on a get,
    // file with an offset past its size.
    for case in 0..5 {
        let mut t = T::authed();
        let id = t.c.get(
            GetParams {
                path: "x".into(),
                resume_from: None,
                output_window: 4,
            },
            t.t0,
        );
        if case != 4 {
            t.recv(Message::File {
                id,
                size: 9,
                mode: 0o644,
                offset: 0,
            });
        }
        match case {
            0 => t.recv(Message::Data {
                id,
                stream: Stream::Stdout,
                len: 5,
            }),
            1 => t.recv(Message::File {
                id,
                size: 9,
                mode: 0o644,
                offset: 0,
            }),
            2 => t.recv(Message::Exit {
                id,
                code: Some(0),
                signal: None,
                timed_out: false,
                duration_ms: 1,
            }),
            3 => t.recv(Message::Data {
                id,
                stream: Stream::Stderr,
                len: 1,
            }),
            _ => t.recv(Message::File {
                id,
                size: 9,
                mode: 0o644,
                offset: 10,
            }),
        }
        assert!(closed_with_protocol_error(&mut t), "case {case}");
    }
    // A put's started, an exec's put_ready.
    let mut t = T::authed();
    let id = t.c.put(put_params(false));
    t.recv(Message::Started {
        id,
        stdin_window: 5,
        stdin_offset: None,
    });
    assert!(closed_with_protocol_error(&mut t));
}
