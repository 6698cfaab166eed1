//! The local end of a transfer, on threads of its own so disk I/O and
//! hashing overlap the connection: a reader that streams a file (or
//! stdin) in chunks while hashing it, a writer that stores a get into a
//! hidden partial file beside its target (holes for all-zero chunks) while
//! hashing, and the commit that checks, syncs and renames it into place.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use blake3::Hasher;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::client::session::OutputCredit;
use crate::transfer::{hex, PART_PREFIX, WRITEBACK_EVERY};

/// Bytes read from a local file at a time.
pub const CHUNK: usize = 1024 * 1024;

/// The hidden partial file a get of `target` writes before the rename.
pub fn part_path(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.as_encoded_bytes().to_vec());
    let mut h = Hasher::new();
    h.update(b"get\0");
    h.update(&name.unwrap_or_default());
    let digest = h.finalize();
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty());
    dir.unwrap_or(Path::new("."))
        .join(format!("{PART_PREFIX}{}", hex(&digest.as_bytes()[..16])))
}

/// What the reader thread found at the end.
pub struct ReadDone {
    /// Bytes in the whole file (from 0).
    pub size: u64,
    /// BLAKE3 of the whole file.
    pub blake3: String,
}

/// Stream `source` from where it stands (`pos` bytes in, already hashed
/// into `hasher`) in chunks on a thread; at most `limit` bytes in all
/// (a regular file's size: it must not end early). The channel closing
/// means the end; the join handle says how it went.
pub fn spawn_reader(
    mut source: Box<dyn Read + Send>,
    pos: u64,
    limit: Option<u64>,
    mut hasher: Hasher,
) -> (
    mpsc::Receiver<Bytes>,
    std::thread::JoinHandle<std::io::Result<ReadDone>>,
) {
    let (tx, rx) = mpsc::channel(2);
    let handle = std::thread::spawn(move || {
        let mut size = pos;
        loop {
            let want = limit.map_or(CHUNK as u64, |l| (l - size).min(CHUNK as u64)) as usize;
            if want == 0 {
                break;
            }
            let mut buf = Vec::with_capacity(want);
            let n = (&mut source).take(want as u64).read_to_end(&mut buf)?;
            if n == 0 {
                if limit.is_some() {
                    return Err(std::io::Error::other(
                        "the file shrank while it was being sent",
                    ));
                }
                break;
            }
            hasher.update(&buf);
            size += n as u64;
            if tx.blocking_send(Bytes::from(buf)).is_err() {
                return Err(std::io::Error::other("the transfer ended"));
            }
        }
        Ok(ReadDone {
            size,
            blake3: hex(hasher.finalize().as_bytes()),
        })
    });
    (rx, handle)
}

/// Where a get's bytes go.
pub enum Sink {
    /// The partial file beside the target.
    File(File),
    /// Standard output, byte for byte.
    Stdout(Box<dyn Write + Send>),
}

/// The writer thread's result.
pub struct Written {
    /// The sink, for the commit.
    pub sink: Sink,
    /// Bytes in the whole file so far (from 0).
    pub size: u64,
    /// Their BLAKE3 state.
    pub hasher: Hasher,
}

/// Write each chunk (then drop its credit, so the server may send more)
/// and hash it, from `pos` on; returns when the channel closes.
pub fn spawn_writer(
    mut sink: Sink,
    pos: u64,
    mut hasher: Hasher,
) -> (
    mpsc::Sender<(Bytes, OutputCredit)>,
    std::thread::JoinHandle<std::io::Result<Written>>,
) {
    let (tx, mut rx) = mpsc::channel::<(Bytes, OutputCredit)>(8);
    let handle = std::thread::spawn(move || {
        let mut size = pos;
        let mut flushed = pos;
        if let Sink::File(f) = &mut sink {
            f.seek(SeekFrom::Start(pos))?;
        }
        while let Some((data, credit)) = rx.blocking_recv() {
            match &mut sink {
                // An all-zero chunk becomes a hole: a sparse file stays
                // sparse (the length is set at the end).
                Sink::File(f) if crate::transfer::is_zero(&data) => {
                    f.seek(SeekFrom::Current(data.len() as i64))?;
                }
                Sink::File(f) => f.write_all(&data)?,
                Sink::Stdout(w) => w.write_all(&data)?,
            }
            hasher.update(&data);
            size += data.len() as u64;
            drop(credit);
            if let (Sink::File(f), true) = (&sink, size - flushed >= WRITEBACK_EVERY) {
                crate::transfer::start_writeback(f, flushed, size - flushed);
                flushed = size;
            }
        }
        if let Sink::File(f) = &mut sink {
            f.set_len(size)?;
        }
        Ok(Written { sink, size, hasher })
    });
    (tx, handle)
}

/// Put a checked partial in place: mode, fsync, rename over `target`,
/// fsync the directory.
pub fn commit(file: File, part: &Path, target: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(part, target)?;
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty());
    File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}
