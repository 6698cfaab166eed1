//! The server state machine's file requests, frame by frame.

use bytes::Bytes;

use super::server_tests::{fatal, frame, T};
use super::*;
use crate::proto::{ErrorCode, Message, Stream};

fn put(id: u64, size: Option<u64>, resume: bool) -> Message {
    Message::Put {
        id,
        path: "/srv/drop/f".into(),
        name: Some("f".into()),
        size,
        mode: Some(0o640),
        resume,
    }
}

fn get(id: u64, window: u64) -> Message {
    Message::Get {
        id,
        path: "/var/log/x".into(),
        offset: None,
        prefix_blake3: None,
        output_window: Some(window),
    }
}

fn data(t: &mut T, id: u64, n: u32) {
    let m = Message::Data {
        id,
        stream: Stream::Stdin,
        len: n,
    };
    t.s.handle_frame(frame(m), t.t0);
}

#[test]
fn put_flows_under_stdin_credit_and_ends_with_put_ok() {
    let mut t = T::authed();
    t.frame(put(1, Some(12), false));
    let acts = t.actions();
    assert!(
        matches!(&acts[..], [Action::Put { id: 1, spec }] if spec.size == Some(12) && spec.mode == Some(0o640)),
        "{acts:?}"
    );
    let ready = Ready::Put {
        offset: 4,
        prefix_blake3: Some("ab".into()),
    };
    t.event(1, ExecEvent::Ready(ready));
    assert_eq!(
        t.sent(),
        [Message::PutReady {
            id: 1,
            window: 8,
            offset: 4,
            prefix_blake3: Some("ab".into())
        }]
    );
    data(&mut t, 1, 8);
    assert!(matches!(t.actions()[..], [Action::Stdin { id: 1, .. }]));
    t.event(1, ExecEvent::StdinWritten(8));
    assert_eq!(t.sent(), [Message::Window { id: 1, bytes: 8 }]);
    t.frame(Message::End {
        id: 1,
        size: 12,
        blake3: "cd".into(),
    });
    let acts = t.actions();
    assert!(
        matches!(&acts[..], [Action::Commit { id: 1, size: 12, blake3 }] if blake3 == "cd"),
        "{acts:?}"
    );
    t.event(
        1,
        ExecEvent::Done {
            size: 12,
            blake3: "cd".into(),
        },
    );
    assert_eq!(
        t.sent(),
        [Message::PutOk {
            id: 1,
            size: 12,
            blake3: "cd".into()
        }]
    );
    assert_eq!(t.s.live_requests(), 0, "the id is free after put_ok");
}

#[test]
fn put_rules_are_protocol_errors() {
    // Data past the window.
    let mut t = T::authed();
    t.frame(put(1, Some(100), false));
    t.actions();
    t.event(
        1,
        ExecEvent::Ready(Ready::Put {
            offset: 0,
            prefix_blake3: None,
        }),
    );
    t.actions();
    data(&mut t, 1, 9);
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol));

    // eof instead of end; data after end; end before put_ready.
    for bad in 0..3 {
        let mut t = T::authed();
        t.frame(put(1, Some(100), false));
        t.actions();
        if bad < 2 {
            t.event(
                1,
                ExecEvent::Ready(Ready::Put {
                    offset: 0,
                    prefix_blake3: None,
                }),
            );
            t.actions();
        }
        match bad {
            0 => t.frame(Message::Eof {
                id: 1,
                stream: Stream::Stdin,
            }),
            1 => {
                t.frame(Message::End {
                    id: 1,
                    size: 0,
                    blake3: "e3".into(),
                });
                t.actions();
                data(&mut t, 1, 1);
            }
            _ => t.frame(Message::End {
                id: 1,
                size: 0,
                blake3: "e3".into(),
            }),
        }
        assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol), "case {bad}");
    }

    // A mode beyond permission bits, a resume without a size, a get with
    // an offset but no prefix hash.
    for m in [
        Message::Put {
            id: 1,
            path: "f".into(),
            name: None,
            size: None,
            mode: Some(0o4755),
            resume: false,
        },
        put(1, None, true),
        Message::Get {
            id: 1,
            path: "f".into(),
            offset: Some(5),
            prefix_blake3: None,
            output_window: Some(5),
        },
    ] {
        let mut t = T::authed();
        t.frame(m);
        assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol));
    }
}

#[test]
fn get_sends_file_data_under_output_credit_then_end() {
    let mut t = T::authed();
    t.frame(get(3, 4));
    assert!(matches!(t.actions()[..], [Action::Get { id: 3, .. }]));
    t.event(
        3,
        ExecEvent::Ready(Ready::Get {
            size: 6,
            mode: 0o600,
            offset: 0,
        }),
    );
    assert_eq!(
        t.sent(),
        [Message::File {
            id: 3,
            size: 6,
            mode: 0o600,
            offset: 0
        }]
    );
    let out = ExecEvent::Output {
        stream: Stream::Stdout,
        data: Bytes::from_static(b"abcdef"),
    };
    t.event(3, out);
    t.event(
        3,
        ExecEvent::Eof {
            stream: Stream::Stdout,
        },
    );
    t.event(
        3,
        ExecEvent::Done {
            size: 6,
            blake3: "h".into(),
        },
    );
    // Only 4 bytes of credit: no end before the rest is sent.
    let acts = t.actions();
    assert!(
        matches!(
            &acts[..],
            [Action::Send(Message::Data { id: 3, len: 4, .. }, _)]
        ),
        "{acts:?}"
    );
    t.frame(Message::Window { id: 3, bytes: 2 });
    let acts = t.actions();
    assert!(matches!(&acts[0], Action::Send(Message::Data { len: 2, .. }, b) if &b[..] == b"ef"));
    assert!(matches!(
        &acts[1],
        Action::OutputTaken {
            id: 3,
            stream: Stream::Stdout
        }
    ));
    // `end` stands for the eof: no eof frame.
    assert_eq!(
        acts[2..],
        [
            Action::Send(
                Message::End {
                    id: 3,
                    size: 6,
                    blake3: "h".into()
                },
                Bytes::new()
            ),
            Action::Finished {
                id: 3,
                kind: Kind::Get,
                outcome: Outcome::Transferred {
                    size: 6,
                    blake3: "h".into()
                }
            }
        ]
    );
    assert_eq!(t.s.live_requests(), 0);
}

#[test]
fn denied_refused_and_cancelled_transfers_free_their_id() {
    let mut t = T::authed();
    t.frame(get(1, 10));
    t.actions();
    t.event(
        1,
        ExecEvent::Denied {
            message: "outside".into(),
        },
    );
    assert_eq!(
        t.sent(),
        [Message::Denied {
            id: 1,
            message: "outside".into()
        }]
    );
    t.frame(put(1, Some(1), false));
    t.actions();
    let refused = ExecEvent::Refused {
        code: ErrorCode::NotFound,
        message: "no".into(),
    };
    t.event(1, refused);
    assert!(matches!(
        &t.sent()[..],
        [Message::Error {
            id: Some(1),
            code: ErrorCode::NotFound,
            ..
        }]
    ));
    // Cancel while running: the error goes out before the stop, and the
    // file layer's late events are ignored.
    t.frame(put(2, Some(10), false));
    t.actions();
    t.event(
        2,
        ExecEvent::Ready(Ready::Put {
            offset: 0,
            prefix_blake3: None,
        }),
    );
    t.actions();
    t.frame(Message::Cancel { id: 2 });
    let acts = t.actions();
    assert!(
        matches!(
            &acts[0],
            Action::Send(
                Message::Error {
                    id: Some(2),
                    code: ErrorCode::Cancelled,
                    ..
                },
                _
            )
        ),
        "{acts:?}"
    );
    assert!(matches!(
        &acts[1],
        Action::Stop {
            id: 2,
            reason: StopReason::Cancelled
        }
    ));
    t.event(2, ExecEvent::StdinWritten(3));
    assert!(t.sent().is_empty());
    assert_eq!(t.s.live_requests(), 0);
    // Cancel before the file is open: stopped as soon as it is.
    t.frame(get(4, 10));
    t.actions();
    t.frame(Message::Cancel { id: 4 });
    assert!(t.actions().is_empty());
    t.event(
        4,
        ExecEvent::Ready(Ready::Get {
            size: 1,
            mode: 0o644,
            offset: 0,
        }),
    );
    let sent = t.sent();
    assert!(
        matches!(
            &sent[..],
            [
                Message::File { .. },
                Message::Error {
                    code: ErrorCode::Cancelled,
                    ..
                }
            ]
        ),
        "{sent:?}"
    );
}

#[test]
fn transfers_share_the_request_limit_and_stdin_budget_with_execs() {
    let mut t = T::authed();
    t.frame(put(1, Some(1), false));
    t.frame(get(2, 10));
    t.actions();
    t.frame(get(3, 10));
    assert!(matches!(
        &t.sent()[..],
        [Message::Error {
            id: Some(3),
            code: ErrorCode::Busy,
            ..
        }]
    ));
    t.frame(put(2, Some(1), false));
    assert!(matches!(
        &t.sent()[..],
        [Message::Error {
            id: Some(2),
            code: ErrorCode::BadRequest,
            ..
        }]
    ));
}

#[test]
fn small_puts_get_small_windows_so_many_fit_the_stdin_budget() {
    let mut t = T::new();
    let settings = ServerSettings {
        stdin_window: 1 << 20,
        stdin_budget: 2 << 20,
        max_requests: 32,
        ..t.s.settings.clone()
    };
    t.s = ServerSession::new(settings, t.t0);
    t.s.handle_frame(
        frame(Message::Auth {
            user: "alice".into(),
            method: crate::proto::AuthMethod::Key,
            signature: Some("sig".into()),
            password: None,
            certificate: None,
        }),
        t.t0,
    );
    t.actions();
    t.s.handle_auth_result(
        "alice",
        AuthVerdict::Ok(Grant {
            stdin_budget: 1 << 30,
        }),
        t.t0,
    );
    t.actions();
    // Sixteen puts of 10 KiB fit a 2 MiB budget (64 KiB windows each);
    // with unsized puts the third would already be busy.
    for id in 1..=16 {
        let mut m = put(id, Some(10 * 1024), false);
        if let Message::Put { name, .. } = &mut m {
            *name = Some(format!("f{id}"));
        }
        t.frame(m);
        assert!(
            matches!(t.actions()[..], [Action::Put { .. }]),
            "put {id} admitted"
        );
        let ready = Ready::Put {
            offset: 0,
            prefix_blake3: None,
        };
        t.event(id, ExecEvent::Ready(ready));
        let sent = t.sent();
        assert!(
            matches!(sent[..], [Message::PutReady { window, .. }] if window == 64 * 1024),
            "{sent:?}"
        );
    }
    // An unsized put takes a full window: what is left is 1 MiB.
    t.frame(put(17, None, false));
    assert!(matches!(t.actions()[..], [Action::Put { .. }]));
}
