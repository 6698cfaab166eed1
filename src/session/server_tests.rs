//! The server state machine, frame by frame, on a fake clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::proto::{AuthMethod, ErrorCode, Frame, Message, Secret, Stream, MAX_WINDOW};

const S: Duration = Duration::from_secs(1);

pub(super) fn frame(message: Message) -> Frame {
    let body = Bytes::from(vec![b'x'; message.body_len()]);
    Frame::new(message, body)
}

pub(super) fn exec_frame(id: u64, stdin: bool) -> Frame {
    exec(id, stdin, None)
}

fn exec(id: u64, stdin: bool, output_window: Option<u64>) -> Frame {
    frame(Message::Exec {
        id,
        argv: vec!["/bin/true".into()],
        stdin,
        timeout_ms: None,
        output_window,
    })
}

pub(super) struct T {
    pub(super) s: ServerSession,
    pub(super) t0: Instant,
}

impl T {
    pub(super) fn new() -> Self {
        let t0 = Instant::now();
        let settings = ServerSettings {
            auth_deadline: t0 + 10 * S,
            max_requests: 2,
            stdin_window: 8,
            stdin_budget: 1 << 30,
            idle_timeout: Some(300 * S),
            keepalive: Some(15 * S),
            auth_methods: vec![AuthMethod::Key, AuthMethod::Password],
            max_auth_tries: 3,
            rtt_hint: None,
        };
        Self {
            s: ServerSession::new(settings, t0),
            t0,
        }
    }

    pub(super) fn at(&self, secs: u32) -> Instant {
        self.t0 + secs * S
    }

    pub(super) fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.s.poll_action()).collect()
    }

    pub(super) fn sent(&mut self) -> Vec<Message> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Send(m, _) => Some(m),
                _ => None,
            })
            .collect()
    }

    pub(super) fn authed() -> Self {
        let mut t = Self::new();
        t.s.handle_frame(auth(), t.t0);
        t.actions();
        t.s.handle_auth_result(
            "alice",
            AuthVerdict::Ok(Grant {
                stdin_budget: 1 << 30,
            }),
            t.t0,
        );
        t.actions();
        t
    }

    pub(super) fn frame(&mut self, m: Message) {
        self.s.handle_frame(frame(m), self.t0);
    }

    pub(super) fn event(&mut self, id: u64, e: ExecEvent) {
        self.s.handle_exec_event(id, e, self.t0);
    }

    /// `exec` then `Started`: a running request.
    pub(super) fn running(&mut self, id: u64, stdin: bool, window: Option<u64>) {
        self.s.handle_frame(exec(id, stdin, window), self.t0);
        assert!(matches!(self.actions()[..], [Action::Exec { .. }]));
        self.event(
            id,
            ExecEvent::Started {
                timeout: None,
                stdin_offset: None,
            },
        );
        self.actions();
    }

    pub(super) fn output(&mut self, id: u64, stream: Stream, data: &'static [u8]) {
        let data = Bytes::from_static(data);
        self.event(id, ExecEvent::Output { stream, data });
    }

    pub(super) fn finish(&mut self, id: u64) {
        self.event(
            id,
            ExecEvent::Eof {
                stream: Stream::Stdout,
            },
        );
        self.event(
            id,
            ExecEvent::Eof {
                stream: Stream::Stderr,
            },
        );
        let status = ExitStatus {
            code: Some(0),
            signal: None,
        };
        self.event(id, ExecEvent::Exited(status));
    }
}

fn auth() -> Frame {
    frame(Message::Auth {
        user: "alice".into(),
        method: crate::proto::AuthMethod::Key,
        signature: Some("sig".into()),
        password: None,
        certificate: None,
    })
}

pub(super) fn fatal(messages: &[Message]) -> Option<ErrorCode> {
    messages.iter().find_map(|m| match m {
        Message::Error { id: None, code, .. } => Some(*code),
        _ => None,
    })
}

#[test]
fn pipelined_first_flight_waits_for_the_verdict() {
    let mut t = T::new();
    t.s.handle_frame(auth(), t.t0);
    t.s.handle_frame(exec(1, false, None), t.t0);
    let a = t.actions();
    assert!(matches!(&a[..], [Action::Verify { user, .. }] if user == "alice"));
    t.s.handle_auth_result(
        "alice",
        AuthVerdict::Ok(Grant {
            stdin_budget: 1 << 30,
        }),
        t.t0,
    );
    let a = t.actions();
    assert!(matches!(a[0], Action::Send(Message::AuthOk { .. }, _)));
    assert!(matches!(a[1], Action::Authenticated { .. }));
    assert!(matches!(a[2], Action::Exec { id: 1, .. }));
}

#[test]
fn failed_auth_drops_the_queued_requests_and_offers_a_retry() {
    let mut t = T::new();
    t.s.handle_frame(auth(), t.t0);
    t.s.handle_frame(exec(1, false, None), t.t0);
    t.actions();
    t.s.handle_auth_result("alice", AuthVerdict::Failed, t.t0);
    let a = t.actions();
    assert_eq!(
        a,
        vec![Action::Send(
            Message::AuthContinue {
                methods: vec![AuthMethod::Key, AuthMethod::Password],
                partial: false
            },
            Bytes::new()
        )],
        "nothing runs after a failed auth"
    );
    // Frames the client pipelined behind the failed attempt are dropped.
    t.s.handle_frame(exec(2, false, None), t.t0);
    assert_eq!(t.actions(), vec![]);
    let password = Message::Auth {
        user: "alice".into(),
        method: AuthMethod::Password,
        signature: None,
        password: Some(Secret::new("pw".into())),
        certificate: None,
    };
    t.s.handle_frame(frame(password), t.t0);
    let a = t.actions();
    assert!(
        matches!(&a[..], [Action::Verify { proof: AuthProof::Password { .. }, proven, .. }] if proven.is_empty())
    );
    t.s.handle_frame(exec(1, false, None), t.t0);
    t.s.handle_auth_result(
        "alice",
        AuthVerdict::Ok(Grant {
            stdin_budget: 1 << 30,
        }),
        t.t0,
    );
    let a = t.actions();
    assert!(matches!(a[0], Action::Send(Message::AuthOk { .. }, _)));
    assert!(matches!(a[2], Action::Exec { id: 1, .. }), "{a:?}");
}

#[test]
fn max_auth_tries_then_closed() {
    let mut t = T::new();
    for _ in 0..2 {
        t.s.handle_frame(auth(), t.t0);
        t.actions();
        t.s.handle_auth_result("alice", AuthVerdict::Failed, t.t0);
        assert!(matches!(
            &t.sent()[..],
            [Message::AuthContinue { partial: false, .. }]
        ));
    }
    t.s.handle_frame(auth(), t.t0);
    t.actions();
    t.s.handle_auth_result("alice", AuthVerdict::Failed, t.t0);
    let a = t.actions();
    assert!(matches!(
        &a[0],
        Action::Send(
            Message::Error {
                id: None,
                code: ErrorCode::AuthFailed,
                ..
            },
            _
        )
    ));
    assert_eq!(a[1], Action::Close(CloseReason::AuthFailed));
    assert_eq!(t.s.auth_failures(), 3);
}

#[test]
fn partial_success_carries_the_proven_method_for_the_same_user_only() {
    let mut t = T::new();
    t.s.handle_frame(auth(), t.t0);
    t.actions();
    let partial = AuthVerdict::Partial {
        method: AuthMethod::Key,
        remaining: vec![AuthMethod::Password],
    };
    t.s.handle_auth_result("alice", partial, t.t0);
    assert_eq!(
        t.sent(),
        vec![Message::AuthContinue {
            methods: vec![AuthMethod::Password],
            partial: true
        }]
    );
    let pw = |user: &str| {
        frame(Message::Auth {
            user: user.into(),
            method: AuthMethod::Password,
            signature: None,
            password: Some(Secret::new("pw".into())),
            certificate: None,
        })
    };
    t.s.handle_frame(pw("alice"), t.t0);
    let a = t.actions();
    assert!(matches!(&a[..], [Action::Verify { proven, .. }] if *proven == vec![AuthMethod::Key]));
    t.s.handle_auth_result("alice", AuthVerdict::Failed, t.t0);
    t.actions();
    // Another user name starts from nothing.
    t.s.handle_frame(pw("bob"), t.t0);
    let a = t.actions();
    assert!(matches!(&a[..], [Action::Verify { proven, .. }] if proven.is_empty()));
}

#[test]
fn auth_without_its_proof_is_a_protocol_error() {
    let mut t = T::new();
    t.s.handle_frame(
        frame(Message::Auth {
            user: "alice".into(),
            method: AuthMethod::Password,
            signature: Some("sig".into()),
            password: None,
            certificate: None,
        }),
        t.t0,
    );
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol));
}

#[test]
fn wrong_first_message_and_too_much_before_auth() {
    let mut t = T::new();
    t.s.handle_frame(exec(1, false, None), t.t0);
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::UnexpectedMessage));
    assert!(t.s.is_closed());

    let mut t = T::new();
    t.s.handle_frame(auth(), t.t0);
    let big = Message::Exec {
        id: 1,
        argv: vec!["a".repeat(PRE_AUTH_BUFFER)],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    };
    t.frame(big);
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::TooLarge));
}

#[test]
fn auth_deadline() {
    let mut t = T::new();
    assert_eq!(t.s.poll_timeout(), Some(t.at(10)));
    t.s.handle_timeout(t.at(9));
    assert!(t.actions().is_empty());
    t.s.handle_timeout(t.at(10));
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::Timeout));
    assert_eq!(t.s.poll_timeout(), None);
}

#[test]
fn lifecycle_and_id_reuse_right_after_exit() {
    let mut t = T::authed();
    t.running(1, false, None);
    t.output(1, Stream::Stdout, b"hi");
    let a = t.actions();
    assert!(
        matches!(&a[0], Action::Send(Message::Data { id: 1, len: 2, .. }, b) if &b[..] == b"hi")
    );
    assert_eq!(
        a[1],
        Action::OutputTaken {
            id: 1,
            stream: Stream::Stdout
        }
    );
    // The same id is refused while live...
    t.s.handle_frame(exec(1, false, None), t.t0);
    assert!(matches!(
        &t.sent()[..],
        [Message::Error {
            id: Some(1),
            code: ErrorCode::BadRequest,
            ..
        }]
    ));
    t.finish(1);
    let sent = t.sent();
    assert!(matches!(
        sent[..],
        [
            Message::Eof { .. },
            Message::Eof { .. },
            Message::Exit {
                id: 1,
                code: Some(0),
                ..
            }
        ]
    ));
    // ...and free the moment its exit is emitted.
    t.s.handle_frame(exec(1, false, None), t.t0);
    assert!(matches!(t.actions()[..], [Action::Exec { id: 1, .. }]));
}

#[test]
fn denied_failed_and_busy() {
    let mut t = T::authed();
    t.s.handle_frame(exec(1, false, None), t.t0);
    t.s.handle_frame(exec(2, false, None), t.t0);
    t.s.handle_frame(exec(3, false, None), t.t0);
    let a = t.actions();
    assert!(a.iter().any(|a| matches!(
        a,
        Action::Send(
            Message::Error {
                id: Some(3),
                code: ErrorCode::Busy,
                ..
            },
            _
        )
    )));
    t.event(
        1,
        ExecEvent::Denied {
            message: "no".into(),
        },
    );
    t.event(2, ExecEvent::Failed);
    let sent = t.sent();
    assert!(matches!(&sent[0], Message::Denied { id: 1, .. }));
    assert!(matches!(
        &sent[1],
        Message::Error {
            id: Some(2),
            code: ErrorCode::ExecFailed,
            ..
        }
    ));
    assert_eq!(t.s.live_requests(), 0);
}

#[test]
fn output_window_exhaustion_and_refill_split_to_fit() {
    let mut t = T::authed();
    t.running(1, false, Some(3));
    t.output(1, Stream::Stdout, b"abcdefg");
    let a = t.actions();
    assert!(
        matches!(&a[..], [Action::Send(Message::Data { len: 3, .. }, b)] if &b[..] == b"abc"),
        "{a:?}"
    );
    // No credit: no data moves, the reader is not told to read again, and
    // stdout's eof and the exit wait (stderr, empty, may end).
    t.finish(1);
    let sent = t.actions();
    assert!(
        matches!(
            &sent[..],
            [Action::Send(
                Message::Eof {
                    stream: Stream::Stderr,
                    ..
                },
                _
            )]
        ),
        "{sent:?}"
    );
    t.frame(Message::Window { id: 1, bytes: 1 });
    assert!(matches!(&t.sent()[..], [Message::Data { len: 1, .. }]));
    t.frame(Message::Window { id: 1, bytes: 100 });
    let a = t.actions();
    assert!(matches!(&a[0], Action::Send(Message::Data { len: 3, .. }, b) if &b[..] == b"efg"));
    assert_eq!(
        a[1],
        Action::OutputTaken {
            id: 1,
            stream: Stream::Stdout
        }
    );
    assert!(
        matches!(
            &a[a.len() - 2..],
            [
                Action::Send(Message::Exit { .. }, _),
                Action::Finished {
                    id: 1,
                    kind: Kind::Exec,
                    outcome: Outcome::Exited { .. }
                }
            ]
        ),
        "{a:?}"
    );
}

#[test]
fn one_stalled_request_does_not_stall_another() {
    let mut t = T::authed();
    t.running(1, false, Some(1));
    t.running(2, false, Some(100));
    t.output(1, Stream::Stdout, b"stalled");
    t.actions();
    t.output(2, Stream::Stdout, b"flows");
    t.finish(2);
    let sent = t.sent();
    assert!(
        matches!(sent.last(), Some(Message::Exit { id: 2, .. })),
        "{sent:?}"
    );
    t.frame(Message::Ping);
    assert_eq!(t.sent(), vec![Message::Pong]);
}

#[test]
fn overflowing_or_invalid_windows_are_protocol_errors() {
    for bytes in [u64::MAX, MAX_WINDOW] {
        let mut t = T::authed();
        t.running(1, false, Some(10));
        t.frame(Message::Window { id: 1, bytes });
        assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol), "{bytes}");
    }
    for w in [0, MAX_WINDOW + 1] {
        let mut t = T::authed();
        t.s.handle_frame(exec(1, false, Some(w)), t.t0);
        assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol), "{w}");
    }
    let mut t = T::authed();
    t.running(1, false, None);
    t.frame(Message::Window { id: 1, bytes: 1 });
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol));
}

#[test]
fn stdin_window_exhaustion_and_refill() {
    let mut t = T::authed();
    t.s.handle_frame(exec(1, true, None), t.t0);
    t.actions();
    // No stdin before `started`: there is no window yet.
    let mut early = T::authed();
    early.s.handle_frame(exec(1, true, None), early.t0);
    early.actions();
    early.frame(Message::Data {
        id: 1,
        stream: Stream::Stdin,
        len: 1,
    });
    assert_eq!(fatal(&early.sent()), Some(ErrorCode::Protocol));

    t.event(
        1,
        ExecEvent::Started {
            timeout: None,
            stdin_offset: None,
        },
    );
    assert!(matches!(
        t.sent()[..],
        [Message::Started {
            id: 1,
            stdin_window: 8,
            stdin_offset: None,
        }]
    ));
    t.frame(Message::Data {
        id: 1,
        stream: Stream::Stdin,
        len: 8,
    });
    assert!(matches!(&t.actions()[..], [Action::Stdin { id: 1, data }] if data.len() == 8));
    t.event(1, ExecEvent::StdinWritten(5));
    assert_eq!(t.sent(), vec![Message::Window { id: 1, bytes: 5 }]);
    t.frame(Message::Data {
        id: 1,
        stream: Stream::Stdin,
        len: 5,
    });
    assert!(matches!(t.actions()[..], [Action::Stdin { .. }]));
    t.frame(Message::Data {
        id: 1,
        stream: Stream::Stdin,
        len: 1,
    });
    assert_eq!(
        fatal(&t.sent()),
        Some(ErrorCode::Protocol),
        "past the window"
    );
}

#[test]
fn stdin_rules() {
    let mut t = T::authed();
    t.running(1, false, None);
    t.frame(Message::Data {
        id: 1,
        stream: Stream::Stdin,
        len: 1,
    });
    assert_eq!(
        fatal(&t.sent()),
        Some(ErrorCode::Protocol),
        "declared no stdin"
    );

    let mut t = T::authed();
    t.running(1, true, None);
    t.frame(Message::Eof {
        id: 1,
        stream: Stream::Stdin,
    });
    assert_eq!(t.actions(), vec![Action::StdinEof { id: 1 }]);
    t.frame(Message::Data {
        id: 1,
        stream: Stream::Stdin,
        len: 1,
    });
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::Protocol), "after eof");

    // Stdin for a request that already ended is dropped quietly.
    let mut t = T::authed();
    t.frame(Message::Data {
        id: 9,
        stream: Stream::Stdin,
        len: 1,
    });
    assert!(t.actions().is_empty());
}

#[test]
fn cancel_stops_and_drops_unsent_output() {
    let mut t = T::authed();
    t.running(1, false, Some(1));
    t.output(1, Stream::Stdout, b"abc");
    t.actions();
    t.frame(Message::Cancel { id: 1 });
    let a = t.actions();
    assert_eq!(
        a[0],
        Action::Stop {
            id: 1,
            reason: StopReason::Cancelled
        }
    );
    assert_eq!(
        a[1],
        Action::OutputTaken {
            id: 1,
            stream: Stream::Stdout
        }
    );
    t.output(1, Stream::Stderr, b"more");
    assert_eq!(
        t.actions(),
        vec![Action::OutputTaken {
            id: 1,
            stream: Stream::Stderr
        }]
    );
    t.finish(1);
    assert!(matches!(
        t.sent().last(),
        Some(Message::Exit {
            timed_out: false,
            ..
        })
    ));
}

#[test]
fn cancel_before_started_stops_at_start() {
    let mut t = T::authed();
    t.s.handle_frame(exec(1, false, None), t.t0);
    t.actions();
    t.frame(Message::Cancel { id: 1 });
    assert!(t.actions().is_empty());
    t.event(
        1,
        ExecEvent::Started {
            timeout: None,
            stdin_offset: None,
        },
    );
    assert!(t.actions().contains(&Action::Stop {
        id: 1,
        reason: StopReason::Cancelled
    }));
}

#[test]
fn command_time_limit() {
    let mut t = T::authed();
    t.s.handle_frame(exec(1, false, None), t.t0);
    t.actions();
    t.event(
        1,
        ExecEvent::Started {
            timeout: Some(2 * S),
            stdin_offset: None,
        },
    );
    t.actions();
    assert_eq!(t.s.poll_timeout(), Some(t.at(2)));
    t.s.handle_timeout(t.at(2));
    assert_eq!(
        t.actions(),
        vec![Action::Stop {
            id: 1,
            reason: StopReason::TimedOut
        }]
    );
    t.s.handle_timeout(t.at(3));
    assert!(t.actions().is_empty(), "stopped once");
    t.finish(1);
    assert!(matches!(
        t.sent().last(),
        Some(Message::Exit {
            timed_out: true,
            ..
        })
    ));
}

#[test]
fn keepalive_then_close_on_fake_clock() {
    let mut t = T::authed();
    t.running(1, false, None);
    assert_eq!(t.s.poll_timeout(), Some(t.at(15)));
    for secs in [15, 30, 45] {
        t.s.handle_timeout(t.at(secs));
        assert_eq!(t.sent(), vec![Message::Ping], "at {secs}s");
    }
    t.s.handle_timeout(t.at(60));
    let a = t.actions();
    assert_eq!(a.last(), Some(&Action::Close(CloseReason::Unresponsive)));
    // An answer resets the count.
    let mut t = T::authed();
    t.s.handle_timeout(t.at(15));
    t.s.handle_frame(frame(Message::Pong), t.at(16));
    t.actions();
    assert_eq!(t.s.poll_timeout(), Some(t.at(31)));
}

#[test]
fn idle_timeout_only_with_nothing_running() {
    let mut t = T::authed();
    t.running(1, false, None);
    t.s.handle_frame(frame(Message::Pong), t.at(299));
    t.s.handle_timeout(t.at(301));
    assert!(fatal(&t.sent()).is_none(), "busy connections are not idle");
    t.finish(1);
    t.actions();
    // Idle from the exit (at t0 here); pings and pongs do not reset it.
    t.s.handle_frame(frame(Message::Ping), t.at(200));
    t.actions();
    t.s.handle_timeout(t.at(300));
    let sent = t.sent();
    assert_eq!(fatal(&sent), Some(ErrorCode::Timeout), "{sent:?}");
}

#[test]
fn frames_in_the_wrong_state_or_direction() {
    let wrong = [
        Message::AuthOk { user: "x".into() },
        Message::Started {
            id: 1,
            stdin_window: 0,
            stdin_offset: None,
        },
        Message::Exit {
            id: 1,
            code: Some(0),
            signal: None,
            timed_out: false,
            duration_ms: 0,
        },
        Message::Data {
            id: 1,
            stream: Stream::Stdout,
            len: 0,
        },
        Message::Eof {
            id: 1,
            stream: Stream::Stderr,
        },
        Message::Denied {
            id: 1,
            message: String::new(),
        },
        Message::Error {
            id: Some(1),
            code: ErrorCode::Internal,
            message: String::new(),
            retry_after_ms: None,
        },
    ];
    for m in wrong {
        let mut t = T::authed();
        t.frame(m.clone());
        assert_eq!(
            fatal(&t.sent()),
            Some(ErrorCode::UnexpectedMessage),
            "{m:?}"
        );
    }
    let mut t = T::authed();
    t.frame(auth().message);
    assert_eq!(
        fatal(&t.sent()),
        Some(ErrorCode::UnexpectedMessage),
        "second auth"
    );
    // A fatal error from the client closes without a reply.
    let mut t = T::authed();
    t.frame(Message::Error {
        id: None,
        code: ErrorCode::Protocol,
        message: "bye".into(),
        retry_after_ms: None,
    });
    assert_eq!(
        t.actions(),
        vec![Action::Close(CloseReason::PeerError("bye".into()))]
    );
}

#[test]
fn shutdown_stops_everything_and_nothing_follows() {
    let mut t = T::authed();
    t.running(1, false, None);
    t.s.shutdown();
    let a = t.actions();
    assert_eq!(
        a[0],
        Action::Stop {
            id: 1,
            reason: StopReason::Shutdown
        }
    );
    assert!(matches!(
        &a[1],
        Action::Send(
            Message::Error {
                id: None,
                code: ErrorCode::ShuttingDown,
                ..
            },
            _
        )
    ));
    // The drain ends the running request: its one `Finished` comes
    // before `Close`.
    assert_eq!(
        a[2],
        Action::Finished {
            id: 1,
            kind: Kind::Exec,
            outcome: Outcome::Shutdown
        }
    );
    assert_eq!(a[3], Action::Close(CloseReason::Shutdown));
    t.finish(1);
    t.frame(Message::Ping);
    assert!(t.actions().is_empty(), "nothing after the fatal error");
}

#[test]
fn decode_errors_carry_stable_messages() {
    let mut t = T::authed();
    t.s.handle_decode_error(&crate::proto::FrameError::NotObject);
    let sent = t.sent();
    assert!(
        matches!(&sent[..], [Message::Error { id: None, code: ErrorCode::Protocol, message, .. }] if message == "header is not a JSON object")
    );
}

#[test]
fn the_connection_stdin_budget_is_shared_by_its_requests() {
    let mut t = T::authed();
    t.s.settings.max_requests = 10;
    t.s.settings.stdin_budget = 20;
    let start = |t: &mut T, id: u64| {
        t.s.handle_frame(exec(id, true, None), t.t0);
        t.actions();
        t.event(
            id,
            ExecEvent::Started {
                timeout: None,
                stdin_offset: None,
            },
        );
        t.sent()
    };
    // Window 8 each while the budget lasts; 4 left is below the minimum
    // window (8 here), so the third is busy, and nothing ran for it.
    assert!(matches!(
        &start(&mut t, 1)[..],
        [Message::Started {
            stdin_window: 8,
            ..
        }]
    ));
    assert!(matches!(
        &start(&mut t, 2)[..],
        [Message::Started {
            stdin_window: 8,
            ..
        }]
    ));
    t.s.handle_frame(exec(3, true, None), t.t0);
    assert!(matches!(
        &t.sent()[..],
        [Message::Error {
            id: Some(3),
            code: ErrorCode::Busy,
            ..
        }]
    ));
    // A request without stdin needs none of it.
    t.s.handle_frame(exec(4, false, None), t.t0);
    assert!(matches!(&t.actions()[..], [Action::Exec { id: 4, .. }]));
    // When one ends, its share is free again.
    t.finish(1);
    t.actions();
    assert!(matches!(
        &start(&mut t, 5)[..],
        [Message::Started {
            stdin_window: 8,
            ..
        }]
    ));
}

#[test]
fn busy_from_the_process_layer_ends_the_request() {
    let mut t = T::authed();
    t.s.handle_frame(exec(1, false, None), t.t0);
    t.actions();
    t.event(
        1,
        ExecEvent::Refused {
            code: ErrorCode::Busy,
            message: "over budget".into(),
        },
    );
    assert!(matches!(
        &t.sent()[..],
        [Message::Error { id: Some(1), code: ErrorCode::Busy, message, .. }] if message == "over budget"
    ));
    assert_eq!(t.s.live_requests(), 0);
}
