//! A faithful model of the server's process and file layers: it starts
//! work when the engine asks, reports only what the real layers can
//! report in their order, and checks that the engine never asks for
//! work under an id whose process is still alive.

use std::collections::BTreeMap;

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use secsh::proto::{ErrorCode, Stream};
use secsh::session::{Action, ExecEvent, ExitStatus, Kind, Ready};

use super::draw;

#[derive(Debug)]
struct Proc {
    kind: Kind,
    running: bool,
    eof: [bool; 2],
    /// An output chunk was reported and not yet taken.
    in_flight: [bool; 2],
    /// Stdin handed over and not yet reported written.
    stdin: u64,
    committed: bool,
}

/// The processes and transfers the engine started.
#[derive(Debug, Default)]
pub struct Procs {
    live: BTreeMap<u64, Proc>,
}

fn idx(s: Stream) -> usize {
    usize::from(s == Stream::Stderr)
}

impl Procs {
    /// Follow the engine's actions.
    pub fn action(&mut self, a: &Action) {
        let start = |kind| Proc {
            kind,
            running: false,
            eof: [false; 2],
            in_flight: [false; 2],
            stdin: 0,
            committed: false,
        };
        match a {
            Action::Exec { id, .. }
            | Action::Job { id, .. }
            | Action::Attach { id, .. }
            | Action::Put { id, .. }
            | Action::Get { id, .. } => {
                // A job or an attach is an exec to the engine: its
                // follower reports as a command does.
                let kind = match a {
                    Action::Exec { .. } | Action::Job { .. } | Action::Attach { .. } => Kind::Exec,
                    Action::Put { .. } => Kind::Put,
                    _ => Kind::Get,
                };
                let old = self.live.insert(*id, start(kind));
                assert!(old.is_none(), "work started under live id {id}: {old:?}");
            }
            Action::Stdin { id, data } => {
                let p = self.live.get_mut(id).expect("stdin for no process");
                p.stdin += data.len() as u64;
            }
            Action::OutputTaken { id, stream } => {
                if let Some(p) = self.live.get_mut(id) {
                    p.in_flight[idx(*stream)] = false;
                }
            }
            Action::Commit { id, .. } => {
                let p = self.live.get_mut(id).expect("commit for no transfer");
                assert_eq!(p.kind, Kind::Put, "commit for a non-put");
                p.committed = true;
            }
            // A transfer is dropped at once; a command still reports its
            // end.
            Action::Stop { id, .. } if self.live.get(id).is_some_and(|p| p.kind != Kind::Exec) => {
                self.live.remove(id);
            }
            // The driver drops what it held for a finished request; events
            // of that life of the id never reach the engine.
            Action::Finished { id, .. } => {
                self.live.remove(id);
            }
            Action::Close(_) => self.live.clear(),
            _ => {}
        }
    }

    /// One event a live process or transfer could report now.
    pub fn event(&mut self, u: &mut Unstructured) -> Result<Option<(u64, ExecEvent)>> {
        if self.live.is_empty() {
            return Ok(None);
        }
        let n = u.choose_index(self.live.len())?;
        let (&id, p) = self.live.iter_mut().nth(n).expect("index in range");
        let choice = u.int_in_range(0u8..=7)?;
        let event = if !p.running {
            p.running = true;
            match (choice, p.kind) {
                (0, _) => ExecEvent::Denied {
                    message: "no".into(),
                },
                (1, _) => ExecEvent::Refused {
                    code: draw::code(u)?,
                    message: "busy".into(),
                },
                (2, Kind::Exec) => ExecEvent::Failed,
                (_, Kind::Exec) => ExecEvent::Started {
                    timeout: draw::opt(u, |u| {
                        Ok(std::time::Duration::from_millis(draw::size(u)? % 100_000))
                    })?,
                    stdin_offset: draw::opt(u, draw::size)?,
                },
                (_, Kind::Put) => ExecEvent::Ready(Ready::Put {
                    offset: draw::size(u)?,
                    prefix_blake3: draw::opt(u, draw::text)?,
                }),
                (_, Kind::Get) => ExecEvent::Ready(Ready::Get {
                    size: draw::size(u)?,
                    mode: 0o644,
                    offset: draw::size(u)?,
                }),
            }
        } else {
            let s = if p.kind == Kind::Exec && u.arbitrary()? {
                1
            } else {
                0
            };
            let stream = [Stream::Stdout, Stream::Stderr][s];
            let has_output = p.kind != Kind::Put;
            match choice {
                0..=2 if has_output && !p.eof[s] && !p.in_flight[s] => {
                    p.in_flight[s] = true;
                    let n = usize::from(u.int_in_range(1u16..=3000)?);
                    ExecEvent::Output {
                        stream,
                        data: Bytes::from(vec![1; n]),
                    }
                }
                3 if has_output && !p.eof[s] => {
                    p.eof[s] = true;
                    ExecEvent::Eof { stream }
                }
                4 if p.stdin > 0 => {
                    let n = u.int_in_range(1..=p.stdin)?;
                    p.stdin -= n;
                    ExecEvent::StdinWritten(n)
                }
                5 if p.kind == Kind::Exec && p.eof == [true; 2] => {
                    self.live.remove(&id);
                    ExecEvent::Exited(ExitStatus {
                        code: Some(u.arbitrary()?),
                        signal: None,
                    })
                }
                6 if (p.kind == Kind::Put && p.committed) || (p.kind == Kind::Get && p.eof[0]) => {
                    self.live.remove(&id);
                    ExecEvent::Done {
                        size: draw::size(u)?,
                        blake3: "00".into(),
                    }
                }
                7 if p.kind != Kind::Exec => {
                    self.live.remove(&id);
                    ExecEvent::Refused {
                        code: ErrorCode::TransferFailed,
                        message: "failed".into(),
                    }
                }
                _ => return Ok(None),
            }
        };
        if matches!(
            event,
            ExecEvent::Denied { .. } | ExecEvent::Refused { .. } | ExecEvent::Failed
        ) {
            self.live.remove(&id);
        }
        Ok(Some((id, event)))
    }
}
