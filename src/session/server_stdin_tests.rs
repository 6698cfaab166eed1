//! Stdin windows that grow on a long link (`server_stdin`), on a fake
//! clock: a command that keeps up earns more credit than it took, a slow
//! one never does, and growth stays inside the connection's stdin budget.

use std::time::{Duration, Instant};

use super::server_tests::T;
use super::*;
use crate::proto::{Message, Stream};

const MIB: u64 = 1 << 20;
const RTT: Duration = Duration::from_millis(100);

/// A signed-in connection whose handshake took one 100 ms round trip,
/// with `window` per request out of `budget`.
fn long_link(window: u64, budget: u64) -> T {
    let mut t = T::authed();
    t.s.settings.stdin_window = window;
    t.s.settings.stdin_budget = budget;
    t.s.settings.max_requests = 4;
    t.s.rtt = autotune::Rtt::default();
    t.s.rtt.sample(RTT);
    t
}

/// Request `id` with stdin, started at `at`: its first window.
fn start(t: &mut T, id: u64, at: Instant) -> u64 {
    t.s.handle_frame(super::server_tests::exec_frame(id, true), at);
    t.actions();
    t.s.handle_exec_event(
        id,
        ExecEvent::Started {
            timeout: None,
            stdin_offset: None,
        },
        at,
    );
    match t.sent()[..] {
        [Message::Started { stdin_window, .. }] => stdin_window,
        ref other => panic!("{other:?}"),
    }
}

/// `n` stdin bytes arrive at `at`, and the command takes them at once:
/// the credit the server gives back.
fn round(t: &mut T, id: u64, n: u64, at: Instant) -> u64 {
    let data = Message::Data {
        id,
        stream: Stream::Stdin,
        len: n as u32,
    };
    t.s.handle_frame(super::server_tests::frame(data), at);
    assert!(matches!(t.actions()[..], [Action::Stdin { .. }]));
    t.s.handle_exec_event(id, ExecEvent::StdinWritten(n), at);
    match t.sent()[..] {
        [Message::Window { id: i, bytes }] if i == id => bytes,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn a_command_that_keeps_up_earns_a_larger_window() {
    let mut t = long_link(2 * MIB, 64 * MIB);
    let t0 = t.t0;
    assert_eq!(start(&mut t, 1, t0), 2 * MIB);
    // A whole window per round trip: the window is what limits the rate.
    let mut window = 2 * MIB;
    for i in 1..=6u32 {
        let back = round(&mut t, 1, window, t0 + RTT * i);
        assert!(back >= window, "{back} < {window}");
        window = back;
    }
    assert!(window >= 32 * MIB, "the window only reached {window}");
    assert!(window <= 64 * MIB, "{window} is past the budget");
}

#[test]
fn a_slow_command_keeps_its_window() {
    let mut t = long_link(2 * MIB, 64 * MIB);
    let t0 = t.t0;
    start(&mut t, 1, t0);
    // A window every 10 round trips: the command sets the pace.
    for i in 1..=6u32 {
        assert_eq!(round(&mut t, 1, 2 * MIB, t0 + RTT * 10 * i), 2 * MIB);
    }
}

#[test]
fn growth_stays_inside_the_connections_budget() {
    let mut t = long_link(2 * MIB, 8 * MIB);
    let t0 = t.t0;
    start(&mut t, 1, t0);
    start(&mut t, 2, t0);
    // Both grow as fast as they can; together they hold at most 8 MiB,
    // less the 64 KiB a new request needs.
    let (mut a, mut b) = (2 * MIB, 2 * MIB);
    for i in 1..=8u32 {
        a = round(&mut t, 1, a, t0 + RTT * i);
        b = round(&mut t, 2, b, t0 + RTT * i);
        assert!(a + b <= 8 * MIB - 64 * 1024, "{a} + {b} past the budget");
    }
    assert_eq!(a + b, 8 * MIB - 64 * 1024, "the budget was not used");
    // So a third request with stdin still starts, with the least window.
    assert_eq!(start(&mut t, 3, t0 + RTT * 9), 64 * 1024);
}

#[test]
fn the_first_bytes_measure_the_round_trip() {
    // No handshake hint: the round trip is `started` to the first bytes.
    let mut t = T::authed();
    t.s.settings.stdin_window = 2 * MIB;
    t.s.settings.stdin_budget = 64 * MIB;
    let t0 = t.t0;
    start(&mut t, 1, t0);
    // The whole window in one round trip, measured by itself.
    assert!(round(&mut t, 1, 2 * MIB, t0 + RTT) > 2 * MIB);
    assert_eq!(t.s.rtt.get(), Some(RTT));
}
