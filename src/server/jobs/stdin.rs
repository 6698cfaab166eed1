//! A resumable job's stdin across connections. One request at a time
//! carries it (the *holder*: first the request that started the job, then
//! the latest resume's `attach` with `stdin`); bytes from any other are
//! dropped, so a half-open connection the client already gave up cannot
//! interleave with its resume. The server counts the bytes it took for
//! the command, which is where a resume's client sends from; credit for
//! bytes the pipe takes goes to the holder, less what an earlier holder
//! sent.

use super::job::Job;
use crate::exec::Events;

/// The stdin side of a job.
#[derive(Default)]
pub(super) struct StdinState {
    /// The client's end has not come yet.
    pub open: bool,
    /// Which request carries it now: 1 for the one that started the job,
    /// one more at each takeover; 0 when the job reads /dev/null.
    pub holder: u64,
    /// Where `StdinWritten` credit goes: the holder's events and token.
    pub to: Option<(Events, u64)>,
    /// Bytes taken from clients for the command.
    pub taken: u64,
    /// Bytes the command's pipe took.
    pub written: u64,
    /// `taken` when the holder took over: credit for bytes before it
    /// belonged to an earlier holder.
    pub base: u64,
}

impl StdinState {
    /// For a job just started; `to`: the starting request, when it
    /// forwards stdin.
    pub fn new(to: Option<(Events, u64)>) -> Self {
        Self {
            open: to.is_some(),
            holder: u64::from(to.is_some()),
            to,
            ..Self::default()
        }
    }
}

impl Job {
    /// Client bytes for the command's stdin from the request that holds
    /// it as `holder` (ignored from any other).
    pub fn push_stdin(&self, holder: u64, data: &[u8]) {
        let mut inner = self.lock();
        if inner.stdin.holder != holder || !inner.stdin.open {
            return;
        }
        inner.stdin.taken += data.len() as u64;
        if let Some(p) = &inner.proc {
            p.push_stdin(data);
        }
    }

    /// The client's end of stdin, from the holder.
    pub fn close_stdin(&self, holder: u64) {
        let mut inner = self.lock();
        if inner.stdin.holder != holder || !inner.stdin.open {
            return;
        }
        inner.stdin.open = false;
        if let Some(p) = &inner.proc {
            p.close_stdin();
        }
    }

    /// A resume's `attach` takes stdin over: its holder number and the
    /// bytes the server already took (the client sends from there).
    /// Once the command has ended nothing is written any more, so no
    /// credit target is kept (a finished job is kept for days).
    pub fn take_stdin(&self, to: (Events, u64)) -> (u64, u64) {
        let mut inner = self.lock();
        let running = inner.end.is_none();
        let s = &mut inner.stdin;
        s.holder += 1;
        s.to = running.then_some(to);
        s.base = s.taken;
        (s.holder, s.taken)
    }

    /// The pipe took `n` more bytes: where the holder's share of that
    /// credit goes, and how much it is.
    pub fn stdin_written(&self, n: u64) -> Option<(Events, u64, u64)> {
        let mut inner = self.lock();
        let s = &mut inner.stdin;
        let before = s.written.saturating_sub(s.base);
        s.written += n;
        let credit = s.written.saturating_sub(s.base) - before;
        let (events, token) = s.to.clone()?;
        (credit > 0).then_some((events, token, credit))
    }
}
