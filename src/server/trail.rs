//! What the audit record of one running command accumulates: the bytes
//! that went each way and the BLAKE3 of exactly what the client was sent
//! on stdout and on stderr; and, from the engine's outcome, the record's
//! ending.

use std::time::Instant;

use blake3::Hasher;

use crate::audit::Ending;
use crate::metrics::ExecResult;
use crate::proto::Stream;
use crate::session::Outcome;

/// One started command's running totals.
pub(crate) struct Trail {
    pub command: String,
    pub pid: u32,
    started: Instant,
    stdin: u64,
    out: [(u64, Hasher); 2],
    hash: bool,
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Trail {
    /// A command `command` started as `pid`; `hash`: keep BLAKE3 of its
    /// output.
    pub fn new(command: String, pid: u32, hash: bool) -> Self {
        Self {
            command,
            pid,
            started: Instant::now(),
            stdin: 0,
            out: [(0, Hasher::new()), (0, Hasher::new())],
            hash,
        }
    }

    /// Stdin bytes handed to the command.
    pub fn stdin(&mut self, n: usize) {
        self.stdin += n as u64;
    }

    /// Output bytes sent to the client.
    pub fn output(&mut self, stream: Stream, data: &[u8]) {
        let (n, h) = &mut self.out[crate::session::out_index(stream)];
        *n += data.len() as u64;
        if self.hash {
            h.update(data);
        }
    }

    /// The record's ending for the engine's `outcome`, and its metric.
    pub fn ending(&self, outcome: &Outcome) -> (ExecResult, Ending) {
        let (mut exit_code, mut signal, mut timed_out) = (None, None, false);
        let mut duration_ms = self.started.elapsed().as_millis() as u64;
        let (result, ended) = match outcome {
            Outcome::Exited {
                status,
                timed_out: t,
                cancelled,
                duration,
            } => {
                (exit_code, signal, timed_out) = (status.code, status.signal, *t);
                duration_ms = duration.as_millis() as u64;
                match (t, cancelled, status.signal, status.code) {
                    (true, ..) => (ExecResult::timed_out, "timed_out"),
                    (_, true, ..) => (ExecResult::signalled, "cancelled"),
                    (_, _, Some(_), _) => (ExecResult::signalled, "signalled"),
                    (.., Some(0)) => (ExecResult::ok, "exited"),
                    _ => (ExecResult::failed, "exited"),
                }
            }
            Outcome::Shutdown => (ExecResult::interrupted, "shutdown"),
            Outcome::Revoked => (ExecResult::interrupted, "revoked"),
            _ => (ExecResult::interrupted, "connection_lost"),
        };
        let [(stdout_bytes, o), (stderr_bytes, e)] = &self.out;
        let hash = self.hash;
        let ending = Ending {
            ended,
            exit_code,
            signal,
            timed_out,
            duration_ms,
            stdin_bytes: self.stdin,
            stdout_bytes: *stdout_bytes,
            stderr_bytes: *stderr_bytes,
            stdout_blake3: hash.then(|| hex(o.finalize().as_bytes())),
            stderr_blake3: hash.then(|| hex(e.finalize().as_bytes())),
        };
        (result, ending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> Outcome {
        Outcome::Exited {
            status: crate::session::ExitStatus {
                code: Some(code),
                signal: None,
            },
            timed_out: false,
            cancelled: false,
            duration: std::time::Duration::from_millis(5),
        }
    }

    #[test]
    fn totals_and_hashes() {
        let mut t = Trail::new("echo".into(), 42, true);
        t.output(Stream::Stdout, b"hello ");
        t.output(Stream::Stdout, b"world\n");
        t.stdin(3);
        let e = t.ending(&exited(0)).1;
        assert_eq!(e.ended, "exited");
        assert_eq!((e.stdout_bytes, e.stderr_bytes, e.stdin_bytes), (12, 0, 3));
        // `printf 'hello world\n' | b3sum` and `b3sum /dev/null`.
        assert_eq!(
            e.stdout_blake3.as_deref(),
            Some("dc5a4edb8240b018124052c330270696f96771a63b45250a5c17d3000e823355")
        );
        assert_eq!(
            e.stderr_blake3.as_deref(),
            Some("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
        );
        let mut t = Trail::new("cat".into(), 43, false);
        t.output(Stream::Stdout, b"x");
        let (result, e) = t.ending(&Outcome::ConnectionLost);
        assert_eq!((e.stdout_bytes, e.stdout_blake3), (1, None));
        assert_eq!(
            (e.ended, e.exit_code, e.signal),
            ("connection_lost", None, None)
        );
        assert_eq!(result, ExecResult::interrupted);
    }
}
