//! The engine's guarantees about how requests end and what a connection
//! may hold before sign-in: one `Finished` per request whatever ends it,
//! the pre-auth queue bounded in wire bytes, the user's own limits applied
//! before any pipelined request is admitted.

use std::time::Duration;

use bytes::Bytes;

use super::server_tests::{fatal, T};
use super::*;
use crate::proto::{AuthMethod, ErrorCode, Frame, Message};

fn auth() -> Message {
    Message::Auth {
        user: "alice".into(),
        method: AuthMethod::Password,
        signature: None,
        password: Some(crate::proto::Secret::new("pw".into())),
        certificate: None,
    }
}

fn finished(actions: &[Action]) -> Vec<(u64, Outcome)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Finished { id, outcome, .. } => Some((*id, outcome.clone())),
            _ => None,
        })
        .collect()
}

fn put_path(id: u64, path_len: usize) -> Message {
    Message::Put {
        id,
        path: "p".repeat(path_len),
        name: None,
        size: Some(1),
        mode: None,
        resume: false,
    }
}

#[test]
fn the_pre_auth_queue_counts_wire_bytes_not_frames() {
    // Two puts with 40 KB paths are 80 KB on the wire: the second one is
    // past the 64 KiB bound, whatever kind of frame it is.
    let mut t = T::new();
    t.frame(auth());
    t.frame(put_path(1, 40_000));
    assert_eq!(fatal(&t.sent()), None, "40 KB fits");
    t.frame(put_path(2, 40_000));
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::TooLarge));
    assert!(t.s.is_closed());

    // Small frames are not capped by count: 1,500 of them (about 50 KB)
    // queue, and all are taken up after the verdict.
    let mut t = T::new();
    t.frame(auth());
    for _ in 0..1500 {
        t.frame(Message::Ping);
    }
    assert_eq!(fatal(&t.sent()), None);
    let grant = Grant {
        stdin_budget: 1 << 20,
    };
    t.s.handle_auth_result("alice", AuthVerdict::Ok(grant), t.t0);
    let pongs = t.sent().iter().filter(|m| **m == Message::Pong).count();
    assert_eq!(pongs, 1500);
}

#[test]
fn short_argv_elements_count_their_allocation() {
    // `["",""...]` is 3 wire bytes an element but a String each in
    // memory: 12,000 of them are 36 KB on the wire and count 420 KB.
    let mut t = T::new();
    t.frame(auth());
    t.frame(Message::Exec {
        id: 1,
        argv: vec![String::new(); 12_000],
        stdin: false,
        timeout_ms: None,
        output_window: None,
    });
    assert_eq!(fatal(&t.sent()), Some(ErrorCode::TooLarge));
}

#[test]
fn the_wire_length_is_what_the_decoder_read() {
    let m = put_path(1, 100);
    let mut wire = Vec::new();
    crate::proto::encode_header(&m, &mut wire).unwrap();
    let mut buf = bytes::BytesMut::from(&wire[..]);
    let f = crate::proto::Decoder::new()
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(f.wire_len, wire.len());
    assert_eq!(Frame::new(m, Bytes::new()).wire_len, wire.len());
}

#[test]
fn the_users_limits_apply_before_pipelined_requests_are_admitted() {
    let mut pipelined = T::new();
    pipelined.s.settings.stdin_window = 16 << 20;
    pipelined.frame(auth());
    pipelined
        .s
        .handle_frame(super::server_tests::exec_frame(1, true), pipelined.t0);
    let grant = Grant {
        stdin_budget: 128 << 10,
    };
    pipelined
        .s
        .handle_auth_result("alice", AuthVerdict::Ok(grant), pipelined.t0);
    pipelined.actions();
    pipelined.event(
        1,
        ExecEvent::Started {
            timeout: None,
            stdin_offset: None,
        },
    );
    let sent = pipelined.sent();
    assert!(
        matches!(&sent[..], [Message::Started { stdin_window, .. }] if *stdin_window == 128 << 10),
        "{sent:?}"
    );
}

#[test]
fn every_live_request_finishes_once_when_the_connection_ends() {
    for (end, want) in [
        ("peer closed", Outcome::ConnectionLost),
        ("protocol error", Outcome::ConnectionLost),
        ("shutdown", Outcome::Shutdown),
    ] {
        let mut t = T::authed();
        t.s.settings.max_requests = 3;
        t.running(1, false, None);
        t.frame(Message::Get {
            id: 2,
            path: "/x".into(),
            offset: None,
            prefix_blake3: None,
            output_window: Some(10),
        });
        // An exec still being checked.
        t.s.handle_frame(super::server_tests::exec_frame(3, false), t.t0);
        t.actions();
        match end {
            "peer closed" => t.s.handle_peer_closed(),
            // `window` for a request opened without an output window.
            "protocol error" => t.frame(Message::Window { id: 1, bytes: 5 }),
            _ => t.s.shutdown(),
        }
        let a = t.actions();
        let mut ends = finished(&a);
        ends.sort_by_key(|(id, _)| *id);
        let want: Vec<_> = [1, 2, 3].into_iter().map(|id| (id, want.clone())).collect();
        assert_eq!(ends, want, "{end}: {a:?}");
        assert!(
            matches!(a.last(), Some(Action::Close(_))),
            "{end}: Close is last"
        );
        // Late process events change nothing.
        t.finish(1);
        assert!(t.actions().is_empty());
    }
}

#[test]
fn refusals_and_denials_finish_with_their_outcome() {
    let mut t = T::authed();
    let cases = [
        (
            ExecEvent::Denied {
                message: "no".into(),
            },
            Outcome::Denied,
        ),
        (ExecEvent::Failed, Outcome::FailedToStart),
        (
            ExecEvent::Refused {
                code: ErrorCode::Busy,
                message: "busy".into(),
            },
            Outcome::Error(ErrorCode::Busy),
        ),
    ];
    for (event, outcome) in cases {
        t.s.handle_frame(super::server_tests::exec_frame(7, false), t.t0);
        t.actions();
        t.event(7, event);
        assert_eq!(finished(&t.actions()), vec![(7, outcome)]);
    }
}

#[test]
fn a_cancelled_exec_finishes_with_its_exit_and_cancelled() {
    let mut t = T::authed();
    t.running(1, false, None);
    t.frame(Message::Cancel { id: 1 });
    t.actions();
    t.s.handle_timeout(t.t0 + Duration::from_millis(1));
    t.finish(1);
    let ends = finished(&t.actions());
    assert!(
        matches!(
            &ends[..],
            [(
                1,
                Outcome::Exited {
                    cancelled: true,
                    timed_out: false,
                    ..
                }
            )]
        ),
        "{ends:?}"
    );
}

#[test]
fn a_cancel_after_the_time_limit_still_drops_later_output() {
    // Found by the paired simulation: a cancel that came after the time
    // limit's stop dropped the pending chunk but sent later output, so
    // the client saw a gap in the stream.
    let mut t = T::authed();
    t.s.handle_frame(super::server_tests::exec_frame(1, false), t.t0);
    t.actions();
    let timeout = Some(Duration::from_secs(1));
    t.event(
        1,
        ExecEvent::Started {
            timeout,
            stdin_offset: None,
        },
    );
    t.actions();
    t.s.handle_timeout(t.at(2));
    assert!(t.actions().iter().any(|a| matches!(
        a,
        Action::Stop {
            reason: StopReason::TimedOut,
            ..
        }
    )));
    t.frame(Message::Cancel { id: 1 });
    t.actions();
    t.output(1, crate::proto::Stream::Stderr, b"late");
    let a = t.actions();
    assert!(
        !a.iter()
            .any(|a| matches!(a, Action::Send(Message::Data { .. }, _))),
        "{a:?}"
    );
    assert!(a
        .iter()
        .any(|a| matches!(a, Action::OutputTaken { id: 1, .. })));
    t.finish(1);
    let ends = finished(&t.actions());
    assert!(
        matches!(
            &ends[..],
            [(
                1,
                Outcome::Exited {
                    cancelled: true,
                    timed_out: true,
                    ..
                }
            )]
        ),
        "{ends:?}"
    );
}

#[test]
fn bodies_are_allowed_only_once_signed_in() {
    let mut t = T::new();
    assert_eq!(t.s.max_body(), 0);
    t.frame(auth());
    assert_eq!(t.s.max_body(), 0, "not while the proof is checked");
    let grant = Grant { stdin_budget: 1 };
    t.s.handle_auth_result("alice", AuthVerdict::Ok(grant), t.t0);
    assert_eq!(t.s.max_body(), crate::proto::MAX_BODY_LEN);
}

#[test]
fn each_violation_has_its_wire_code() {
    assert_eq!(
        Violation::FirstNotAuth("exec").code(),
        ErrorCode::UnexpectedMessage
    );
    assert_eq!(Violation::TooMuchBeforeAuth.code(), ErrorCode::TooLarge);
    assert_eq!(Violation::StdinPastWindow.code(), ErrorCode::Protocol);
    let mut t = T::new();
    t.frame(Message::Ping);
    let sent = t.sent();
    assert!(
        matches!(&sent[..], [Message::Error { id: None, code: ErrorCode::UnexpectedMessage, message, .. }] if message == "the first message must be auth, not ping"),
        "{sent:?}"
    );
}

#[test]
fn a_revoked_session_admits_nothing_and_stops_what_runs_at_the_grace() {
    let mut t = T::authed();
    t.running(1, false, None);
    t.actions();
    t.s.revoke(t.t0, Duration::from_secs(5));
    assert!(t.actions().is_empty(), "running requests get their grace");
    assert_eq!(t.s.poll_timeout(), Some(t.at(5)));
    // A new request is denied; `list` gets nothing.
    t.s.handle_frame(super::server_tests::exec_frame(2, false), t.t0);
    assert!(matches!(&t.sent()[..], [Message::Denied { id: 2, .. }]));
    t.frame(Message::List { id: 3 });
    assert!(matches!(t.actions()[..], [Action::List { id: 3 }]));
    t.s.handle_listed(
        3,
        vec![crate::proto::CommandInfo {
            command: "x".into(),
            template: "x".into(),
            slots: Vec::new(),
        }],
    );
    assert!(matches!(&t.sent()[..], [Message::Commands { commands, .. }] if commands.is_empty()));
    // The grace runs out: stopped, finished as revoked, closed.
    t.s.handle_timeout(t.at(5));
    let a = t.actions();
    assert!(
        a.contains(&Action::Stop {
            id: 1,
            reason: StopReason::Revoked
        }),
        "{a:?}"
    );
    assert_eq!(finished(&a), vec![(1, Outcome::Revoked)]);
    assert_eq!(a.last(), Some(&Action::Close(CloseReason::Revoked)));

    // Without running requests, or when the last one ends, it closes at once.
    let mut t = T::authed();
    t.s.revoke(t.t0, Duration::from_secs(5));
    assert_eq!(
        t.actions().last(),
        Some(&Action::Close(CloseReason::Revoked))
    );
    let mut t = T::authed();
    t.running(1, false, None);
    t.actions();
    t.s.revoke(t.t0, Duration::from_secs(5));
    t.finish(1);
    let a = t.actions();
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::Send(Message::Exit { id: 1, .. }, _))),
        "{a:?}"
    );
    assert!(matches!(finished(&a)[..], [(1, Outcome::Exited { .. })]));
    assert_eq!(a.last(), Some(&Action::Close(CloseReason::Revoked)));
}
