//! One output stream of a job on disk, within a fixed bound: the first
//! half of the stream's share is kept as written (the head, `NAME.head`),
//! the rest as a tail of four segment files (`NAME.<offset>`), the oldest
//! removed when a fifth would start. The bytes between head and tail are
//! dropped and counted, so a reader at any offset learns exactly what is
//! still there: the stream's bytes, a gap to skip, or its current end.
//! The writer never blocks on a reader; readers see only bytes already
//! written (lengths are published after the write).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Tail segments kept per stream.
const SEGMENTS: u64 = 4;

/// Where the bytes of a stream are.
#[derive(Debug, Clone, Default)]
struct Layout {
    /// Bytes in the head file.
    head: u64,
    /// Tail segments: (first offset, length), oldest first.
    tail: VecDeque<(u64, u64)>,
    /// Bytes written to the stream so far.
    total: u64,
    /// Bytes dropped between head and tail (and after a write failed).
    dropped: u64,
    /// A write failed (disk full): later bytes are counted, not kept.
    failed: bool,
}

/// One stream's spool, shared by its writer and its readers.
#[derive(Debug, Clone)]
pub(crate) struct Spool {
    base: PathBuf,
    head_cap: u64,
    segment: u64,
    layout: Arc<Mutex<Layout>>,
}

/// What a read found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Bytes from the offset on.
    Bytes(Vec<u8>),
    /// Nothing before this offset is kept any more.
    Gap(u64),
    /// The offset is the stream's current end.
    End,
}

impl Spool {
    /// A stream spooled as `dir/name.*`, using at most `bound` bytes.
    pub fn new(dir: &Path, name: &str, bound: u64) -> Self {
        let head_cap = bound / 2;
        Self {
            base: dir.join(name),
            head_cap,
            segment: ((bound - head_cap) / SEGMENTS).max(1),
            layout: Arc::default(),
        }
    }

    /// The stream as a previous run of the daemon left it on disk.
    pub fn recover(dir: &Path, name: &str, bound: u64) -> Self {
        let spool = Self::new(dir, name, bound);
        let mut l = Layout::default();
        if let Ok(m) = std::fs::metadata(spool.head_path()) {
            l.head = m.len();
        }
        let prefix = format!("{name}.");
        let mut tail: Vec<(u64, u64)> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().into_string().ok()?;
                let start = n.strip_prefix(&prefix)?.parse::<u64>().ok()?;
                Some((start, e.metadata().ok()?.len()))
            })
            .collect();
        tail.sort_unstable();
        l.total = tail.last().map_or(l.head, |(s, n)| s + n);
        l.dropped = tail.first().map_or(0, |(s, _)| s.saturating_sub(l.head));
        l.tail = tail.into();
        *spool.layout.lock().expect("spool lock") = l;
        spool
    }

    fn head_path(&self) -> PathBuf {
        self.base.with_extension("head")
    }

    fn segment_path(&self, start: u64) -> PathBuf {
        self.base.with_extension(format!("{start:020}"))
    }

    /// Bytes the tail keeps (the head keeps as many).
    pub fn tail_cap(&self) -> u64 {
        self.segment * SEGMENTS
    }

    /// Where the kept tail would start if `n` more bytes were written now:
    /// the bytes between the head and it would be dropped. `None`: nothing
    /// would be dropped.
    pub fn drop_edge(&self, n: u64) -> Option<u64> {
        let l = self.layout.lock().expect("spool lock");
        if l.failed {
            return None;
        }
        let to_head = self.head_cap.saturating_sub(l.head).min(n);
        let mut rest = n - to_head;
        if rest == 0 {
            return None;
        }
        let mut total = l.total + to_head;
        let mut tail: Vec<(u64, u64)> = l.tail.iter().copied().collect();
        if let Some(last) = tail.last_mut() {
            let k = (self.segment - last.1).min(rest);
            last.1 += k;
            rest -= k;
            total += k;
        }
        while rest > 0 {
            let k = self.segment.min(rest);
            tail.push((total, k));
            total += k;
            rest -= k;
        }
        let gone = tail.len().saturating_sub(SEGMENTS as usize);
        (gone > 0).then(|| tail[gone].0)
    }

    /// Bytes written so far and bytes dropped of them.
    pub fn counts(&self) -> (u64, u64) {
        let l = self.layout.lock().expect("spool lock");
        (l.total, l.dropped)
    }

    /// Append `data`: to the head while it has room, then to the tail,
    /// dropping the oldest segment when a new one would be the fifth.
    /// After a failed write, this and every later write is counted as
    /// dropped (the error is returned once).
    pub fn write(&self, data: &[u8]) -> std::io::Result<()> {
        let mut rest = data.len() as u64;
        let result = self.try_write(data, &mut rest);
        let mut l = self.layout.lock().expect("spool lock");
        if result.is_err() || l.failed {
            let first = !l.failed;
            l.failed = true;
            l.total += rest;
            l.dropped += rest;
            if first {
                return result;
            }
        }
        Ok(())
    }

    fn try_write(&self, mut data: &[u8], rest: &mut u64) -> std::io::Result<()> {
        let (mut head, mut total, mut current) = {
            let l = self.layout.lock().expect("spool lock");
            if l.failed {
                return Ok(());
            }
            (l.head, l.total, l.tail.back().copied())
        };
        if head < self.head_cap && !data.is_empty() {
            let n = (self.head_cap - head).min(data.len() as u64) as usize;
            append(&self.head_path(), &data[..n])?;
            head += n as u64;
            total += n as u64;
            data = &data[n..];
            *rest -= n as u64;
            let mut l = self.layout.lock().expect("spool lock");
            l.head = head;
            l.total = total;
        }
        while !data.is_empty() {
            let (start, len) = match current {
                Some((s, n)) if n < self.segment => (s, n),
                _ => {
                    self.new_segment(total)?;
                    (total, 0)
                }
            };
            let n = (self.segment - len).min(data.len() as u64) as usize;
            append(&self.segment_path(start), &data[..n])?;
            total += n as u64;
            data = &data[n..];
            *rest -= n as u64;
            current = Some((start, len + n as u64));
            let mut l = self.layout.lock().expect("spool lock");
            if let Some(last) = l.tail.back_mut() {
                last.1 = len + n as u64;
            }
            l.total = total;
        }
        Ok(())
    }

    fn new_segment(&self, start: u64) -> std::io::Result<()> {
        let gone = {
            let mut l = self.layout.lock().expect("spool lock");
            let gone = if l.tail.len() as u64 >= SEGMENTS {
                let (s, n) = l.tail.pop_front().expect("non-empty");
                l.dropped += n;
                Some(s)
            } else {
                None
            };
            l.tail.push_back((start, 0));
            gone
        };
        if let Some(s) = gone {
            std::fs::remove_file(self.segment_path(s))?;
        }
        Ok(())
    }

    /// Up to `max` bytes from `offset`, a gap, or the end.
    pub fn read(&self, offset: u64, max: usize) -> std::io::Result<Found> {
        for _ in 0..4 {
            let (path, at, avail) = {
                let l = self.layout.lock().expect("spool lock");
                if offset >= l.total {
                    return Ok(Found::End);
                }
                if offset < l.head {
                    (self.head_path(), offset, l.head - offset)
                } else {
                    match l.tail.iter().find(|(s, n)| (*s..s + n).contains(&offset)) {
                        Some((s, n)) => (self.segment_path(*s), offset - s, s + n - offset),
                        None => match l.tail.front() {
                            Some((s, _)) if offset < *s => return Ok(Found::Gap(*s)),
                            // Counted but never kept (a failed write).
                            _ => return Ok(Found::Gap(l.total)),
                        },
                    }
                }
            };
            let mut buf = vec![0; avail.min(max as u64) as usize];
            match File::open(&path) {
                Ok(f) => {
                    let n = f.read_at(&mut buf, at)?;
                    buf.truncate(n);
                    return Ok(Found::Bytes(buf));
                }
                // Dropped since the lookup: look again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        // Still missing: the whole job was removed (kept too long, or
        // making room) while being read. Its bytes are gone.
        Ok(Found::Gap(self.counts().0))
    }
}

fn append(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::{Found, Spool};

    fn read_all(s: &Spool) -> (Vec<u8>, u64) {
        let (mut out, mut skipped, mut at) = (Vec::new(), 0, 0);
        loop {
            match s.read(at, 7).unwrap() {
                Found::Bytes(b) => {
                    at += b.len() as u64;
                    out.extend(b);
                }
                Found::Gap(to) => {
                    skipped += to - at;
                    at = to;
                }
                Found::End => return (out, skipped),
            }
        }
    }

    fn disk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    }

    #[test]
    fn small_streams_are_kept_whole() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::new(d.path(), "out", 64);
        s.write(b"hello ").unwrap();
        s.write(b"world").unwrap();
        assert_eq!(read_all(&s), (b"hello world".to_vec(), 0));
        assert_eq!(s.counts(), (11, 0));
    }

    #[test]
    fn past_the_bound_the_middle_is_dropped_and_the_disk_stays_within_it() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::new(d.path(), "out", 64);
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(13) {
            s.write(chunk).unwrap();
            assert!(disk(d.path()) <= 64, "{}", disk(d.path()));
        }
        let (kept, skipped) = read_all(&s);
        assert_eq!(kept.len() as u64 + skipped, 1000);
        assert_eq!(&kept[..32], &data[..32], "the head");
        assert_eq!(&kept[32..], &data[1000 - (kept.len() - 32)..], "the tail");
        assert_eq!(s.counts(), (1000, skipped));
        // A restart reads back the same layout.
        let again = Spool::recover(d.path(), "out", 64);
        assert_eq!(read_all(&again), (kept, skipped));
        assert_eq!(again.counts(), (1000, skipped));
    }

    #[test]
    fn the_drop_edge_is_where_the_tail_starts_after_the_write() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::new(d.path(), "out", 64);
        for n in [1u64, 5, 13, 32, 50, 200] {
            for _ in 0..7 {
                let edge = s.drop_edge(n);
                let before = s.counts();
                s.write(&vec![1; n as usize]).unwrap();
                let after = s.counts();
                match edge {
                    None => assert_eq!(after.1, before.1, "dropped with no edge"),
                    Some(e) => {
                        assert!(after.1 > before.1);
                        assert_eq!(s.read(e - 1, 1).unwrap(), Found::Gap(e));
                    }
                }
            }
        }
    }

    #[test]
    fn a_read_in_the_gap_says_where_the_kept_bytes_resume() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::new(d.path(), "out", 16);
        s.write(&[7; 100]).unwrap();
        match s.read(8, 100).unwrap() {
            Found::Gap(to) => assert!(to > 8 && to < 100),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.read(100, 10).unwrap(), Found::End);
    }
}
