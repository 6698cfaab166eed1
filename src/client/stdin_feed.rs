//! Local stdin into the requests that carry it. One task reads the local
//! source and hands its chunks to the current request's [`StdinSink`];
//! for a resumable run it keeps the last [`REPLAY_LIMIT`] bytes it handed
//! over, so that after a drop the resume's request gets them again from
//! the byte the server says it already has, then the rest of the source:
//! no stdin byte lost or sent twice. A resume that needs bytes no longer
//! kept is refused (reported on the problem channel), never approximated.

use bytes::Bytes;
use std::collections::VecDeque;
use tokio::sync::mpsc;

use super::session::StdinSink;

/// The most stdin bytes a resumable run keeps for a resume: twice what a
/// server holds of a connection's unread stdin by default
/// (`stdin_buffer_kib`, 32 MiB). A server configured to hold more can have
/// more unacknowledged; a resume that needs older bytes is refused.
pub const REPLAY_LIMIT: u64 = 64 * 1024 * 1024;

/// Stdin bytes handed to requests, the last of them kept.
#[derive(Default)]
struct Replay {
    /// Bytes handed over in all.
    handed: u64,
    /// The last chunks handed over, oldest first, `kept` bytes together.
    chunks: VecDeque<Bytes>,
    kept: u64,
    /// The local source ended.
    eof: bool,
}

impl Replay {
    fn push(&mut self, chunk: &Bytes, keep: bool) {
        self.handed += chunk.len() as u64;
        if !keep {
            return;
        }
        self.kept += chunk.len() as u64;
        self.chunks.push_back(chunk.clone());
        while self.kept > REPLAY_LIMIT {
            let old = self.chunks.pop_front().expect("kept bytes are in chunks");
            self.kept -= old.len() as u64;
        }
    }

    /// The bytes from `offset` on, or why they cannot be sent exactly.
    fn from(&self, offset: u64) -> Result<Vec<Bytes>, String> {
        let first = self.handed - self.kept;
        if offset > self.handed {
            return Err(format!(
                "the server reports {offset} stdin bytes, but only {} were sent",
                self.handed
            ));
        }
        if offset < first {
            return Err(format!(
                "the resume needs stdin from byte {offset}, but only bytes from {first} on are \
                 still held (at most {} MiB are kept)",
                REPLAY_LIMIT >> 20
            ));
        }
        let mut skip = offset - first;
        let mut out = Vec::new();
        for c in &self.chunks {
            let len = c.len() as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            out.push(c.slice(skip as usize..));
            skip = 0;
        }
        Ok(out)
    }
}

/// The feeding task's handle: give it each new request's sink.
pub(super) struct Feed {
    sinks: mpsc::UnboundedSender<(StdinSink, u64)>,
}

impl Feed {
    /// Start reading `source` into the sinks given with [`Feed::to`];
    /// `keep`: keep bytes for a resume. A resume that cannot be exact is
    /// said on `problems`.
    pub fn start(
        mut source: mpsc::Receiver<Bytes>,
        keep: bool,
        problems: mpsc::UnboundedSender<String>,
    ) -> Self {
        let (sinks, mut rx) = mpsc::unbounded_channel::<(StdinSink, u64)>();
        tokio::spawn(async move {
            let mut replay = Replay::default();
            let mut next = rx.recv().await;
            // A new sink replaces the current one at once: the old one may
            // wait for credit that a lost connection never sends.
            'sinks: while let Some((sink, offset)) = next.take() {
                let mut again: VecDeque<Bytes> = match replay.from(offset) {
                    Ok(again) => again.into(),
                    Err(why) => {
                        let _ = problems.send(why);
                        return;
                    }
                };
                loop {
                    let chunk = match again.pop_front() {
                        Some(c) => Some(c),
                        None if replay.eof => None,
                        None => tokio::select! {
                            c = source.recv() => {
                                if let Some(c) = &c {
                                    replay.push(c, keep);
                                } else {
                                    replay.eof = true;
                                }
                                c
                            }
                            n = rx.recv() => {
                                next = n;
                                continue 'sinks;
                            }
                        },
                    };
                    let Some(chunk) = chunk else {
                        sink.close();
                        break;
                    };
                    tokio::select! {
                        sent = sink.send(chunk) => if sent.is_err() {
                            break;
                        },
                        n = rx.recv() => {
                            next = n;
                            continue 'sinks;
                        }
                    }
                }
                next = rx.recv().await;
            }
        });
        Self { sinks }
    }

    /// Carry on into `sink`, from stdin byte `offset` (0 for the request
    /// that started the command; the server's count for a resume).
    pub fn to(&self, sink: StdinSink, offset: u64) {
        let _ = self.sinks.send((sink, offset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(chunks: &[&str]) -> Replay {
        let mut r = Replay::default();
        for c in chunks {
            r.push(&Bytes::copy_from_slice(c.as_bytes()), true);
        }
        r
    }

    fn joined(v: Vec<Bytes>) -> String {
        v.iter().map(|b| String::from_utf8_lossy(b)).collect()
    }

    #[test]
    fn replays_exactly_from_any_offset() {
        let r = replay(&["abc", "de", "fghi"]);
        let all = "abcdefghi";
        for off in 0..=all.len() {
            assert_eq!(joined(r.from(off as u64).unwrap()), &all[off..], "{off}");
        }
        assert!(r.from(10).unwrap_err().contains("only 9 were sent"));
    }

    #[test]
    fn refuses_bytes_no_longer_kept() {
        let mut r = Replay::default();
        let chunk = Bytes::from(vec![7u8; 1 << 20]);
        for _ in 0..(REPLAY_LIMIT >> 20) + 3 {
            r.push(&chunk, true);
        }
        assert_eq!(r.kept, REPLAY_LIMIT);
        assert_eq!(r.handed, REPLAY_LIMIT + (3 << 20));
        assert!(r.from(0).unwrap_err().contains("still held"));
        assert_eq!(
            r.from(3 << 20).unwrap().len(),
            (REPLAY_LIMIT >> 20) as usize
        );
        let mut plain = Replay::default();
        plain.push(&chunk, false);
        assert!(plain.from(0).is_err());
        assert!(plain.from(1 << 20).unwrap().is_empty());
    }
}
