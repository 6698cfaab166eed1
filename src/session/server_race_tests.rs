//! Races the server engine must absorb without breaking the protocol:
//! frames the client sent before it heard that a command ended.

use super::server_tests::{frame, T};
use super::*;
use crate::proto::{Message, Stream};

fn stdin(id: u64, n: u32) -> Message {
    Message::Data {
        id,
        stream: Stream::Stdin,
        len: n,
    }
}

#[test]
fn stdin_after_the_command_exited_is_dropped_not_handed_on() {
    let mut t = T::authed();
    t.running(1, true, Some(1));
    // Two bytes of output, one byte of credit: the command exits while
    // the second byte still waits, so `exit` is not sent yet.
    t.output(1, Stream::Stdout, b"ab");
    t.actions();
    t.finish(1);
    assert!(
        !t.sent().iter().any(|m| matches!(m, Message::Exit { .. })),
        "exit waits for the output"
    );
    // The client, not knowing, sends stdin and eof: dropped silently.
    t.s.handle_frame(frame(stdin(1, 4)), t.t0);
    t.frame(Message::Eof {
        id: 1,
        stream: Stream::Stdin,
    });
    let acts = t.actions();
    assert!(
        !acts.iter().any(|a| matches!(
            a,
            Action::Stdin { .. } | Action::StdinEof { .. } | Action::Close(_)
        )),
        "{acts:?}"
    );
    // Credit for the rest: the byte, the eofs and exit follow.
    t.frame(Message::Window { id: 1, bytes: 1 });
    let sent = t.sent();
    assert!(
        matches!(sent.last(), Some(Message::Exit { id: 1, .. })),
        "{sent:?}"
    );
}
