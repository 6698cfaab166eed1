//! What the audit record of one running command accumulates: the bytes
//! that went each way and the SHA-256 of exactly what the client was sent
//! on stdout and on stderr.

use sha2::{Digest, Sha256};

use crate::audit::Ending;
use crate::proto::Stream;

/// One started command's running totals.
pub(crate) struct Trail {
    pub command: String,
    pub pid: u32,
    stdin: u64,
    out: [(u64, Sha256); 2],
    hash: bool,
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Trail {
    /// A command `command` started as `pid`; `hash`: keep SHA-256 of its
    /// output.
    pub fn new(command: String, pid: u32, hash: bool) -> Self {
        Self {
            command,
            pid,
            stdin: 0,
            out: [(0, Sha256::new()), (0, Sha256::new())],
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

    /// The totals, with how the command ended.
    pub fn ending(
        self,
        exit_code: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        duration_ms: u64,
    ) -> Ending {
        let [(stdout_bytes, o), (stderr_bytes, e)] = self.out;
        let hash = self.hash;
        Ending {
            exit_code,
            signal,
            timed_out,
            duration_ms,
            stdin_bytes: self.stdin,
            stdout_bytes,
            stderr_bytes,
            stdout_sha256: hash.then(|| hex(o.finalize())),
            stderr_sha256: hash.then(|| hex(e.finalize())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_hashes() {
        let mut t = Trail::new("echo".into(), 42, true);
        t.output(Stream::Stdout, b"hello ");
        t.output(Stream::Stdout, b"world\n");
        t.stdin(3);
        let e = t.ending(Some(0), None, false, 5);
        assert_eq!((e.stdout_bytes, e.stderr_bytes, e.stdin_bytes), (12, 0, 3));
        // sha256("hello world\n") and sha256("").
        assert_eq!(
            e.stdout_sha256.as_deref(),
            Some("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447")
        );
        assert_eq!(
            e.stderr_sha256.as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        let mut t = Trail::new("cat".into(), 43, false);
        t.output(Stream::Stdout, b"x");
        let e = t.ending(Some(0), None, false, 1);
        assert_eq!((e.stdout_bytes, e.stdout_sha256), (1, None));
    }
}
