//! The models behind the resume simulation: the connection's two
//! directions frame by frame, the job's spool as its command writes it,
//! and a follower that reads it as `server::jobs::follow` does.

use std::collections::VecDeque;

use bytes::BytesMut;
use secsh::proto::{encode_header, Decoder, Frame, Message, Stream};
use secsh::session::{ExecEvent, ExitStatus};

/// One direction of the connection, frame by frame (the real codec on
/// both ends).
#[derive(Default)]
pub(super) struct Pipe {
    pub(super) frames: VecDeque<Vec<u8>>,
    pub(super) decoder: Decoder,
}

impl Pipe {
    pub(super) fn write(&mut self, m: &Message, body: &[u8]) {
        let mut out = Vec::new();
        encode_header(m, &mut out).expect("unencodable frame");
        out.extend_from_slice(body);
        self.frames.push_back(out);
    }

    pub(super) fn next(&mut self) -> Option<Frame> {
        let bytes = self.frames.pop_front()?;
        let mut buf = BytesMut::from(&bytes[..]);
        let f = self.decoder.decode(&mut buf).expect("undecodable frame");
        assert!(buf.is_empty());
        Some(f.expect("a whole frame"))
    }
}

/// The job: chunks it writes, one per step, and its exit code.
pub(super) const SCRIPT: &[(usize, usize)] = &[
    (0, 5),
    (1, 3),
    (0, 300),
    (0, 1),
    (1, 40),
    (0, 1500),
    (0, 2),
    (1, 1),
    (0, 200),
];
pub(super) const CODE: i32 = 3;
/// The id of the model's job.
pub(super) const JOB: &str = "0a1b2c3d4e5f";

fn byte(s: usize, at: usize) -> u8 {
    (at.wrapping_mul(31) ^ (s * 101)) as u8
}

/// The stdin a run with stdin sends: `STDIN_LEN` bytes, pushed in pieces
/// of `STDIN_PIECE`.
pub(super) const STDIN_LEN: usize = 2000;
pub(super) const STDIN_PIECE: usize = 97;

/// Byte `at` of that stdin.
pub(super) fn stdin_byte(at: usize) -> u8 {
    (at.wrapping_mul(7) ^ 0x5a) as u8
}

/// The job as the spool holds it, and the stdin it took.
#[derive(Default)]
pub(super) struct Job {
    pub(super) out: [Vec<u8>; 2],
    pub(super) step: usize,
    /// It reads stdin, and exits only after its end.
    pub(super) reads_stdin: bool,
    /// The stdin bytes the server took for it, and whether its end came.
    pub(super) stdin: Vec<u8>,
    pub(super) stdin_eof: bool,
    /// The request that carries its stdin on the live connection.
    pub(super) holder: Option<u64>,
}

impl Job {
    pub(super) fn done(&self) -> bool {
        self.step >= SCRIPT.len() && (!self.reads_stdin || self.stdin_eof)
    }

    /// The command writes its next chunk.
    pub(super) fn run(&mut self) {
        if let Some(&(s, n)) = SCRIPT.get(self.step) {
            let at = self.out[s].len();
            self.out[s].extend((at..at + n).map(|i| byte(s, i)));
            self.step += 1;
        }
    }
}

/// One request reading the job (`server::jobs::follow`).
pub(super) struct Follower {
    pub(super) id: u64,
    pub(super) offsets: [usize; 2],
    pub(super) inflight: [bool; 2],
    pub(super) eof: [bool; 2],
    pub(super) exited: bool,
}

impl Follower {
    /// The next event it would report, if any.
    pub(super) fn next(&mut self, job: &Job, chunk: usize) -> Option<ExecEvent> {
        for s in 0..2 {
            if self.eof[s] || self.inflight[s] {
                continue;
            }
            let stream = if s == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            let have = job.out[s].len();
            if self.offsets[s] < have {
                let end = have.min(self.offsets[s] + chunk);
                let data = job.out[s][self.offsets[s]..end].to_vec();
                self.offsets[s] = end;
                self.inflight[s] = true;
                return Some(ExecEvent::Output {
                    stream,
                    data: data.into(),
                });
            }
            if job.done() {
                self.eof[s] = true;
                return Some(ExecEvent::Eof { stream });
            }
        }
        if self.eof == [true; 2] && !self.exited {
            self.exited = true;
            return Some(ExecEvent::Exited(ExitStatus {
                code: Some(CODE),
                signal: None,
            }));
        }
        None
    }
}
