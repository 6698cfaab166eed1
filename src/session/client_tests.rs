//! The client state machine, frame by frame, on a fake clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::proto::{AuthMethod, ErrorCode, Frame, Message, Secret, Stream, DATA_CHUNK, MAX_WINDOW};

const S: Duration = Duration::from_secs(1);

pub(super) struct T {
    pub(super) c: ClientSession,
    pub(super) t0: Instant,
}

fn params(stdin: bool, window: u64) -> ExecParams {
    ExecParams {
        argv: vec!["cat".into()],
        stdin,
        timeout_ms: None,
        output_window: window,
    }
}

impl T {
    pub(super) fn new() -> Self {
        let t0 = Instant::now();
        let settings = ClientSettings {
            auth_deadline: t0 + 3 * S,
            keepalive: Some(15 * S),
            output_budget: 0,
            rtt_hint: None,
        };
        Self {
            c: ClientSession::new(
                "alice".into(),
                AuthProof::Key {
                    signature: "sig".into(),
                    certificate: None,
                },
                settings,
                t0,
            ),
            t0,
        }
    }

    pub(super) fn actions(&mut self) -> Vec<ClientAction> {
        std::iter::from_fn(|| self.c.poll_action()).collect()
    }

    pub(super) fn sent(&mut self) -> Vec<Message> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                ClientAction::Send(m, _) => Some(m),
                _ => None,
            })
            .collect()
    }

    pub(super) fn recv(&mut self, message: Message) {
        let body = Bytes::from(vec![b'o'; message.body_len()]);
        self.c.handle_frame(Frame::new(message, body), self.t0);
    }

    pub(super) fn authed() -> Self {
        let mut t = Self::new();
        t.recv(Message::AuthOk {
            user: "alice".into(),
        });
        t.actions();
        t
    }

    fn started(&mut self, stdin: bool, output_window: u64, stdin_window: u64) -> u64 {
        let id = self.c.exec(params(stdin, output_window), self.t0);
        self.recv(Message::Started {
            id,
            stdin_window,
            stdin_offset: None,
        });
        self.actions();
        id
    }
}

fn closed(actions: &[ClientAction]) -> Option<ConnEnd> {
    actions.iter().find_map(|a| match a {
        ClientAction::Closed(e) => Some(e.clone()),
        _ => None,
    })
}

#[test]
fn first_flight_is_auth_then_exec_and_ids_are_fresh() {
    let mut t = T::new();
    let a = t.c.exec(params(false, 100), t.t0);
    let b = t.c.exec(params(false, 100), t.t0);
    assert_ne!(a, b);
    let sent = t.sent();
    assert!(matches!(&sent[0], Message::Auth { user, .. } if user == "alice"));
    assert!(matches!(&sent[1], Message::Exec { id, output_window: Some(100), .. } if *id == a));
    assert!(matches!(&sent[2], Message::Exec { id, .. } if *id == b));
}

#[test]
fn silent_server_times_out_before_auth_ok() {
    let mut t = T::new();
    t.actions();
    assert_eq!(t.c.poll_timeout(), Some(t.t0 + 3 * S));
    t.c.handle_timeout(t.t0 + 3 * S);
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Timeout(_))));
}

#[test]
fn stdin_is_split_to_fit_any_window() {
    let mut t = T::authed();
    let id = t.started(true, 10, 1);
    t.c.push_stdin(id, Bytes::from_static(b"hello")).unwrap();
    t.c.close_stdin(id).unwrap();
    let sent = t.sent();
    assert!(
        matches!(
            &sent[..],
            [Message::Data {
                len: 1,
                stream: Stream::Stdin,
                ..
            }]
        ),
        "{sent:?}"
    );
    for _ in 0..3 {
        t.recv(Message::Window { id, bytes: 1 });
        assert!(matches!(&t.sent()[..], [Message::Data { len: 1, .. }]));
    }
    t.recv(Message::Window { id, bytes: 1000 });
    let a = t.actions();
    assert!(matches!(&a[0], ClientAction::Send(Message::Data { len: 1, .. }, b) if &b[..] == b"o"));
    assert_eq!(a[1], ClientAction::StdinTaken { id });
    assert!(matches!(
        &a[2],
        ClientAction::Send(
            Message::Eof {
                stream: Stream::Stdin,
                ..
            },
            _
        )
    ));
}

#[test]
fn large_stdin_chunks_leave_in_data_chunk_pieces() {
    let mut t = T::authed();
    let id = t.started(true, 10, MAX_WINDOW);
    t.c.push_stdin(id, Bytes::from(vec![0; DATA_CHUNK * 2 + 1]))
        .unwrap();
    let lens: Vec<u32> = t
        .sent()
        .into_iter()
        .filter_map(|m| match m {
            Message::Data { len, .. } => Some(len),
            _ => None,
        })
        .collect();
    assert_eq!(lens, vec![DATA_CHUNK as u32, DATA_CHUNK as u32, 1]);
}

#[test]
fn stdin_queued_before_started_waits_for_the_window() {
    let mut t = T::authed();
    let id = t.c.exec(params(true, 10), t.t0);
    t.actions();
    t.c.push_stdin(id, Bytes::from_static(b"ab")).unwrap();
    assert!(t.actions().is_empty());
    t.recv(Message::Started {
        id,
        stdin_window: 8,
        stdin_offset: None,
    });
    let a = t.actions();
    assert!(
        matches!(&a[1], ClientAction::Send(Message::Data { len: 2, .. }, _)),
        "{a:?}"
    );
}

#[test]
fn overflowing_credit_is_a_protocol_error_not_a_panic() {
    let mut t = T::authed();
    let id = t.started(true, 10, 5);
    t.recv(Message::Window {
        id,
        bytes: u64::MAX,
    });
    let a = t.actions();
    assert!(matches!(
        &a[0],
        ClientAction::Send(
            Message::Error {
                id: None,
                code: ErrorCode::Protocol,
                ..
            },
            _
        )
    ));
    assert!(matches!(closed(&a), Some(ConnEnd::Protocol(_))));

    let mut t = T::authed();
    let id = t.c.exec(params(true, 10), t.t0);
    t.recv(Message::Started {
        id,
        stdin_window: MAX_WINDOW + 1,
        stdin_offset: None,
    });
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Protocol(_))));
}

#[test]
fn output_window_is_enforced_and_returned_as_consumed() {
    let mut t = T::authed();
    let id = t.started(false, 4, 0);
    t.recv(Message::Data {
        id,
        stream: Stream::Stdout,
        len: 4,
    });
    assert!(matches!(&t.actions()[..], [ClientAction::Output { data, .. }] if data.len() == 4));
    t.c.consumed(id, 4, t.t0);
    assert_eq!(t.sent(), vec![Message::Window { id, bytes: 4 }]);
    t.recv(Message::Data {
        id,
        stream: Stream::Stderr,
        len: 4,
    });
    t.actions();
    t.recv(Message::Data {
        id,
        stream: Stream::Stdout,
        len: 1,
    });
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Protocol(m)) if m.contains("window")));
}

#[test]
fn request_lifecycle_events() {
    let mut t = T::authed();
    let id = t.started(false, 100, 0);
    t.recv(Message::Eof {
        id,
        stream: Stream::Stdout,
    });
    t.recv(Message::Eof {
        id,
        stream: Stream::Stderr,
    });
    t.recv(Message::Exit {
        id,
        code: None,
        signal: Some(9),
        timed_out: false,
        duration_ms: 1,
    });
    let a = t.actions();
    assert_eq!(
        a.last(),
        Some(&ClientAction::Exited {
            id,
            exit: RemoteExit::Signal(9)
        })
    );
    assert_eq!(t.c.live_requests(), 0);
    // A second exit for the same id is the server's mistake.
    t.recv(Message::Exit {
        id,
        code: Some(0),
        signal: None,
        timed_out: false,
        duration_ms: 1,
    });
    assert!(closed(&t.actions()).is_some());

    let mut t = T::authed();
    let id = t.c.exec(params(false, 1), t.t0);
    t.recv(Message::Denied {
        id,
        message: "no".into(),
    });
    assert!(matches!(&t.actions()[..], [_, ClientAction::Denied { .. }]));
    let id = t.c.exec(params(false, 1), t.t0);
    t.recv(Message::Error {
        id: Some(id),
        code: ErrorCode::Busy,
        message: "busy".into(),
        retry_after_ms: None,
    });
    assert!(matches!(
        t.actions().last(),
        Some(ClientAction::Failed {
            code: ErrorCode::Busy,
            ..
        })
    ));
}

#[test]
fn keepalive_while_running_and_answers_pings() {
    let mut t = T::authed();
    t.started(false, 100, 0);
    t.recv(Message::Ping);
    assert_eq!(t.sent(), vec![Message::Pong]);
    for k in 1..=3u32 {
        t.c.handle_timeout(t.t0 + 15 * k * S);
        assert_eq!(t.sent(), vec![Message::Ping]);
    }
    t.c.handle_timeout(t.t0 + 60 * S);
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Timeout(_))));
}

#[test]
fn fatal_server_errors_and_stray_frames() {
    let mut t = T::new();
    t.recv(Message::Error {
        id: None,
        code: ErrorCode::AuthFailed,
        message: "authentication failed".into(),
        retry_after_ms: None,
    });
    assert!(matches!(
        closed(&t.actions()),
        Some(ConnEnd::Server {
            code: ErrorCode::AuthFailed,
            ..
        })
    ));
    let mut t = T::authed();
    t.recv(Message::Data {
        id: 77,
        stream: Stream::Stdout,
        len: 1,
    });
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Protocol(_))));
    let mut t = T::authed();
    t.recv(Message::Cancel { id: 1 });
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Protocol(_))));
}

#[test]
fn auth_continue_resends_the_pipelined_requests_after_the_new_proof() {
    let mut t = T::new();
    let id = t.c.exec(
        ExecParams {
            argv: vec!["true".into()],
            stdin: false,
            timeout_ms: None,
            output_window: 1024,
        },
        t.t0,
    );
    t.sent();
    t.recv(Message::AuthContinue {
        methods: vec![AuthMethod::Password],
        partial: true,
    });
    assert!(matches!(
        &t.actions()[..],
        [ClientAction::AuthContinue { partial: true, .. }]
    ));
    let password = Secret::new("pw".into());
    t.c.retry_auth(AuthProof::Password { password }, t.t0 + 30 * S);
    let sent = t.sent();
    assert!(
        matches!(&sent[..], [Message::Auth { method: AuthMethod::Password, password: Some(_), .. }, Message::Exec { id: again, .. }] if *again == id),
        "{sent:?}"
    );
    t.recv(Message::AuthOk {
        user: "alice".into(),
    });
    t.actions();
    // Once signed in, nothing is resent.
    t.c.retry_auth(
        AuthProof::Password {
            password: Secret::new("x".into()),
        },
        t.t0,
    );
    assert_eq!(t.sent(), vec![]);
}

#[test]
fn giving_up_ends_the_connection_as_auth_failed() {
    let mut t = T::new();
    t.recv(Message::AuthContinue {
        methods: vec![AuthMethod::Key],
        partial: false,
    });
    t.actions();
    t.c.give_up_auth();
    assert!(matches!(
        closed(&t.actions()),
        Some(ConnEnd::Server {
            code: ErrorCode::AuthFailed,
            ..
        })
    ));
}

#[test]
fn a_request_on_a_closed_connection_fails_at_once_and_sends_nothing() {
    let mut t = T::authed();
    t.c.handle_peer_closed();
    assert!(closed(&t.actions()).is_some());
    let id = t.c.exec(params(false, 100), t.t0);
    let list = t.c.list();
    let acts = t.actions();
    assert!(
        matches!(&acts[..], [
            ClientAction::Failed { id: a, code: ErrorCode::Cancelled, .. },
            ClientAction::Failed { id: b, code: ErrorCode::Cancelled, .. },
        ] if *a == id && *b == list),
        "{acts:?}"
    );
    assert_eq!(t.c.live_requests(), 0);
}

#[test]
fn commands_answer_only_a_pending_list() {
    let mut t = T::authed();
    let get = t.c.exec(params(false, 100), t.t0);
    let list = t.c.list();
    t.actions();
    let commands = |id| Message::Commands {
        id,
        commands: Vec::new(),
    };
    t.recv(commands(list));
    assert!(matches!(t.actions()[..], [ClientAction::Listed { id, .. }] if id == list));
    // The same list again, or an exec's id: the server broke the protocol.
    t.recv(commands(get));
    assert!(matches!(closed(&t.actions()), Some(ConnEnd::Protocol(_))));
}
