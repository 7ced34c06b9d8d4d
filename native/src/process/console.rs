//! A container's console log on disk, as Docker's `local` log driver keeps
//! one: `console.log`, then `console.log.1` ... `console.log.N-1` as it
//! rotates, each at most `max-size` bytes of records (see
//! [`anchorage_shared::console`] for what a record is and how a read goes).
//!
//! A file starts with a header: `ANCLOG02`, the position (bytes since the
//! log began) of its first record, and a random number of the file's. A
//! record is its length, its time (Unix milliseconds), its stream and
//! flags, its bytes, and its length again, mixed with the file's number,
//! so a reader walks backwards as easily as forwards (`--tail`) and no
//! container can write bytes that pass for a record's end. All numbers
//! are little-endian.
//!
//! The supervisor writes ([`LogWriter`]); every reader opens the files it
//! needs before reading ([`LogFiles`]), so a rotation under it renames or
//! deletes nothing it holds. [`LogFollower`] is the engine's: it keeps the
//! newest file open and reads what was appended since its last look.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use anchorage_shared::chunk::Chunk;
use anchorage_shared::console::{LineSplitter, LogSource, RECORD_OVERHEAD};
use anchorage_shared::container::LogOptions;
use anchorage_shared::engine::{LogBatch, LogCursor, LogLine, LogQuery, Stream};

const MAGIC: &[u8; 8] = b"ANCLOG02";
const HEADER: u64 = 24;
/// A record's bytes before its payload: length, time, stream, flags.
const PREFIX: usize = 4 + 8 + 1 + 1;
const PARTIAL: u8 = 1;
/// The newest file's name.
pub const NEWEST: &str = "console.log";

fn file_name(index: u32) -> String {
    if index == 0 {
        NEWEST.to_string()
    } else {
        format!("{NEWEST}.{index}")
    }
}

/// Writes a container's console records, rotating the files.
pub struct LogWriter {
    dir: PathBuf,
    options: LogOptions,
    file: BufWriter<File>,
    /// The position of the newest file's first record, the bytes of
    /// records in it, and how many of those are surely on disk (the rest
    /// may still be in the buffer).
    base: u64,
    bytes: u64,
    committed: u64,
    /// Bytes that could not be written (a full disk): lost, and counted.
    pub lost: u64,
    out: LineSplitter,
    err: LineSplitter,
    /// A record being put together.
    scratch: Vec<u8>,
    /// The newest file's number, mixed into each record's trailer.
    nonce: u32,
}

impl LogWriter {
    /// Opens the log in `dir`, going on after what is there.
    pub fn open(dir: &Path, options: LogOptions) -> io::Result<LogWriter> {
        let path = dir.join(NEWEST);
        let (file, base, nonce, bytes) =
            match OpenOptions::new().read(true).append(true).open(&path) {
                Ok(file) => {
                    let (base, nonce) = read_header(&file)?;
                    // A writer killed half way through a record left it
                    // unfinished: it is cut off, so the next starts clean.
                    let len = file.metadata()?.len().saturating_sub(HEADER);
                    let bytes = whole_records(&file, len, nonce);
                    file.set_len(HEADER + bytes)?;
                    (file, base, nonce, bytes)
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    let (file, nonce) = new_file(&path, 0)?;
                    (file, 0, nonce, 0)
                }
                Err(err) => return Err(err),
            };
        Ok(LogWriter {
            dir: dir.to_path_buf(),
            options,
            file: BufWriter::with_capacity(64 << 10, file),
            base,
            bytes,
            committed: bytes,
            lost: 0,
            out: LineSplitter::default(),
            err: LineSplitter::default(),
            scratch: Vec::new(),
            nonce,
        })
    }

    /// Takes bytes a stream got at `at_ms`: each finished line (or 16 KiB
    /// piece) becomes a record; an unfinished line waits for more.
    pub fn write(&mut self, at_ms: u64, stream: Stream, data: &[u8]) {
        let mut splitter = std::mem::take(self.splitter(stream));
        splitter.push(data, |record, partial| {
            self.record(at_ms, stream, record, partial)
        });
        *self.splitter(stream) = splitter;
    }

    /// The streams ended: unfinished lines are kept as they are.
    pub fn finish(&mut self, at_ms: u64) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let mut splitter = std::mem::take(self.splitter(stream));
            splitter.finish(|record, _| self.record(at_ms, stream, record, true));
        }
        self.flush();
    }

    /// Puts what is buffered into the file.
    pub fn flush(&mut self) {
        match self.file.flush() {
            Ok(()) => self.committed = self.bytes,
            // A full disk: what could not go is dropped, not retried
            // forever (the container keeps running).
            Err(_) => self.drop_uncommitted(),
        }
    }

    fn splitter(&mut self, stream: Stream) -> &mut LineSplitter {
        match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        }
    }

    fn record(&mut self, at_ms: u64, stream: Stream, data: &[u8], partial: bool) {
        let size = data.len() as u64 + RECORD_OVERHEAD;
        if self.bytes > 0 && self.bytes + size > self.options.max_size && self.rotate().is_err() {
            self.lost += data.len() as u64;
            return;
        }
        // One write per record: the buffer goes to the file in whole
        // records, so the file ends on a record's end but for the moment a
        // write is under way.
        let len = (data.len() as u32).to_le_bytes();
        let mut record = std::mem::take(&mut self.scratch);
        record.clear();
        record.extend_from_slice(&len);
        record.extend_from_slice(&at_ms.to_le_bytes());
        record.push(u8::from(stream == Stream::Stderr));
        record.push(if partial { PARTIAL } else { 0 });
        record.extend_from_slice(data);
        record.extend_from_slice(&(u32::from_le_bytes(len) ^ self.nonce).to_le_bytes());
        let written = self.file.write_all(&record);
        self.scratch = record;
        match written {
            Ok(()) => self.bytes += size,
            Err(_) => {
                self.lost += data.len() as u64;
                self.drop_uncommitted();
            }
        }
    }

    /// Starts a new newest file; the oldest beyond `max-file` goes. The
    /// new file is made first: if it cannot be (a full disk), nothing is
    /// renamed.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.committed = self.bytes;
        let base = self.base + self.bytes;
        let staging = self.dir.join(format!("{NEWEST}.new"));
        let (file, nonce) = new_file(&staging, base)?;
        let last = self.options.max_file.saturating_sub(1);
        let newest = self.dir.join(NEWEST);
        if last > 0 {
            let _ = fs::remove_file(self.dir.join(file_name(last)));
            for index in (1..last).rev() {
                let _ = fs::rename(
                    self.dir.join(file_name(index)),
                    self.dir.join(file_name(index + 1)),
                );
            }
            fs::rename(&newest, self.dir.join(file_name(1)))?;
        }
        // One file only: the new one replaces it in one step, so a reader
        // always finds the newest file.
        fs::rename(&staging, &newest)?;
        self.replace_file(file);
        self.nonce = nonce;
        self.base = base;
        self.bytes = 0;
        self.committed = 0;
        Ok(())
    }

    /// After a failed write: what may be half on disk is cut off, so the
    /// next record starts where the last whole one ended, and what was
    /// buffered is dropped (and counted lost).
    fn drop_uncommitted(&mut self) {
        let nonce = self.nonce;
        let reopened = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.dir.join(NEWEST))
            .and_then(|mut file| {
                use std::io::Seek;
                // The buffer went to the file by itself now and then: what
                // is whole there stays (readers may have it), the rest goes.
                let len = file.metadata()?.len().saturating_sub(HEADER);
                let kept = whole_records(&file, len, nonce);
                file.set_len(HEADER + kept)?;
                file.seek(io::SeekFrom::Start(HEADER + kept))?;
                Ok((file, kept))
            });
        if let Ok((file, kept)) = reopened {
            self.replace_file(file);
            self.lost += self.bytes.saturating_sub(kept);
            self.bytes = kept;
            self.committed = kept;
        }
    }

    /// Writes to `file` from now on, dropping (not flushing) what the old
    /// buffer held.
    fn replace_file(&mut self, file: File) {
        let old = std::mem::replace(&mut self.file, BufWriter::with_capacity(64 << 10, file));
        let _ = old.into_parts();
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A new log file whose first record is at `base`, and its number.
fn new_file(path: &Path, base: u64) -> io::Result<(File, u32)> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.set_len(0)?;
    let mut nonce = [0u8; 4];
    {
        use std::io::Read;
        File::open("/dev/urandom")?.read_exact(&mut nonce)?;
    }
    let mut header = [0u8; HEADER as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&base.to_le_bytes());
    header[16..20].copy_from_slice(&nonce);
    (&file).write_all(&header)?;
    Ok((file, u32::from_le_bytes(nonce)))
}

/// A file's first position and number.
fn read_header(file: &File) -> io::Result<(u64, u32)> {
    let mut header = [0u8; HEADER as usize];
    file.read_exact_at(&mut header, 0)?;
    if &header[..8] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a console log (its header is wrong)",
        ));
    }
    Ok((
        u64::from_le_bytes(header[8..16].try_into().expect("8 bytes")),
        u32::from_le_bytes(header[16..20].try_into().expect("4 bytes")),
    ))
}

/// One file of a log, opened.
struct LogFile {
    file: File,
    ino: u64,
    /// The position of its first record, and the bytes of records in it.
    base: u64,
    len: u64,
    nonce: u32,
}

/// Whether the file's records end at `len` (the bytes of records in it):
/// the length at the end and at the start of the last record agree.
fn ends_on_a_record(file: &File, len: u64, nonce: u32) -> bool {
    if len == 0 {
        return true;
    }
    let mut trailer = [0u8; 4];
    if len < RECORD_OVERHEAD || file.read_exact_at(&mut trailer, HEADER + len - 4).is_err() {
        return false;
    }
    let length = u32::from_le_bytes(trailer) ^ nonce;
    let size = u64::from(length) + RECORD_OVERHEAD;
    let mut prefix = [0u8; 4];
    size <= len
        && file.read_exact_at(&mut prefix, HEADER + len - size).is_ok()
        && u32::from_le_bytes(prefix) == length
}

/// The bytes of whole records at the start of a file holding `len`: all
/// of them when it ends on a record (as it does but while a write is under
/// way, or after a writer was killed in one), else up to the last whole
/// record, found walking from the start.
fn whole_records(file: &File, len: u64, nonce: u32) -> u64 {
    if ends_on_a_record(file, len, nonce) {
        return len;
    }
    // Walk the records from the start, reading ahead 64 KiB at a time.
    let mut at = 0;
    let mut window: (u64, Vec<u8>) = (0, Vec::new());
    while at + RECORD_OVERHEAD <= len {
        let (start, buf) = &window;
        let covered = at >= *start && at + 4 <= start + buf.len() as u64;
        if !covered {
            let size = (len - at).min(64 << 10) as usize;
            let mut buf = vec![0u8; size];
            if file.read_exact_at(&mut buf, HEADER + at).is_err() {
                break;
            }
            window = (at, buf);
        }
        let (start, buf) = &window;
        let from = (at - start) as usize;
        let length = u32::from_le_bytes(buf[from..from + 4].try_into().expect("4 bytes"));
        let size = u64::from(length) + RECORD_OVERHEAD;
        if at + size > len {
            break;
        }
        at += size;
    }
    at
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let (base, nonce) = read_header(&file)?;
        let mut len = meta.len().saturating_sub(HEADER);
        // A write under way (the file changed just now): it ends in a
        // moment. A file long still is as its writer left it.
        let fresh = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < std::time::Duration::from_secs(2));
        for _ in 0..if fresh { 20 } else { 0 } {
            if ends_on_a_record(&file, len, nonce) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
            len = file.metadata()?.len().saturating_sub(HEADER);
        }
        Ok(LogFile {
            ino: meta.ino(),
            base,
            len: whole_records(&file, len, nonce),
            nonce,
            file,
        })
    }
}

/// A log's files, opened for reading: the shared reader's [`LogSource`].
pub struct LogFiles {
    /// Oldest first.
    files: Vec<LogFile>,
    /// Bytes read ahead: the file, its offset, and the bytes.
    window: (usize, u64, Vec<u8>),
}

/// How much is read at a time.
const WINDOW: usize = 64 << 10;

impl LogFiles {
    /// Opens every file of the log in `dir` (none yet: an empty log).
    pub fn open(dir: &Path) -> LogFiles {
        let mut files: Vec<LogFile> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| {
                        let name = e.file_name();
                        let name = name.to_string_lossy();
                        name == NEWEST
                            || name
                                .strip_prefix("console.log.")
                                .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                    .filter_map(|e| LogFile::open(&e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|f| f.base);
        LogFiles {
            files,
            window: (0, 0, Vec::new()),
        }
    }

    /// The file holding position `at`.
    fn file_of(&self, at: u64) -> Option<usize> {
        self.files
            .iter()
            .rposition(|f| f.base <= at)
            .filter(|&i| at < self.files[i].base + self.files[i].len)
    }

    /// `len` bytes of file `index` at record offset `offset`, through the
    /// read-ahead window; `backwards` reads ahead towards the start.
    fn bytes(&mut self, index: usize, offset: u64, len: usize, backwards: bool) -> Option<&[u8]> {
        let (file, start, buf) = &self.window;
        let covered =
            *file == index && offset >= *start && offset + len as u64 <= *start + buf.len() as u64;
        if !covered {
            let size = len.max(WINDOW) as u64;
            let from = if backwards {
                (offset + len as u64).saturating_sub(size)
            } else {
                offset
            };
            let until = (from + size).min(self.files[index].len);
            let mut buf = vec![0u8; until.saturating_sub(from) as usize];
            self.files[index]
                .file
                .read_exact_at(&mut buf, HEADER + from)
                .ok()?;
            self.window = (index, from, buf);
        }
        let (_, start, buf) = &self.window;
        let at = (offset - start) as usize;
        buf.get(at..at + len)
    }

    fn decode(prefix: &[u8], data: &[u8]) -> LogLine {
        LogLine {
            at_ms: u64::from_le_bytes(prefix[4..12].try_into().expect("8 bytes")),
            stream: if prefix[12] == 1 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
            data: Chunk(data.to_vec()),
            partial: prefix[13] & PARTIAL != 0,
        }
    }

    /// Brings the newest file's length up to date (the writer appends),
    /// to its last whole record.
    fn refresh(&mut self) {
        if let Some(newest) = self.files.last_mut()
            && let Ok(meta) = newest.file.metadata()
        {
            let len = meta.len().saturating_sub(HEADER);
            if ends_on_a_record(&newest.file, len, newest.nonce) {
                newest.len = len;
            }
        }
        // What was read ahead may have ended early.
        self.window.2.clear();
    }
}

impl LogSource for &mut LogFiles {
    fn span(&mut self) -> (u64, u64) {
        match (self.files.first(), self.files.last()) {
            (Some(oldest), Some(newest)) => (oldest.base, newest.base + newest.len),
            _ => (0, 0),
        }
    }

    fn record_at(&mut self, at: u64) -> Option<(LogLine, u64)> {
        let index = self.file_of(at)?;
        let offset = at - self.files[index].base;
        let prefix = self.bytes(index, offset, PREFIX, false)?.to_vec();
        let len = u32::from_le_bytes(prefix[..4].try_into().expect("4 bytes")) as usize;
        let record = self.bytes(index, offset, PREFIX + len + 4, false)?;
        let line = LogFiles::decode(&record[..PREFIX], &record[PREFIX..PREFIX + len]);
        Some((line, at + PREFIX as u64 + len as u64 + 4))
    }

    fn record_before(&mut self, end: u64) -> Option<(u64, LogLine)> {
        // The record ending at `end` is in the file holding `end - 1`.
        let index = self.file_of(end.checked_sub(1)?)?;
        let offset = end - self.files[index].base;
        let nonce = self.files[index].nonce;
        let trailer = self.bytes(index, offset.checked_sub(4)?, 4, true)?;
        let len = (u32::from_le_bytes(trailer.try_into().expect("4 bytes")) ^ nonce) as usize;
        let size = (PREFIX + len + 4) as u64;
        let start = offset.checked_sub(size)?;
        let record = self.bytes(index, start, size as usize, true)?;
        // The length at both ends agrees, or this is not a record's end.
        if u32::from_le_bytes(record[..4].try_into().expect("4 bytes")) as usize != len {
            return None;
        }
        let line = LogFiles::decode(&record[..PREFIX], &record[PREFIX..PREFIX + len]);
        Some((self.files[index].base + start, line))
    }
}

/// Reads what `query` asks of the log in `dir`.
pub fn read(dir: &Path, query: &LogQuery) -> LogBatch {
    let mut files = LogFiles::open(dir);
    anchorage_shared::console::read(&mut files, query)
}

/// The engine's reader of one container's log: from a cursor on, with the
/// newest file kept open between looks.
pub struct LogFollower {
    dir: PathBuf,
    pub cursor: LogCursor,
    newest: Option<LogFiles>,
}

impl LogFollower {
    /// Follows the log in `dir` from its end as it is now.
    pub fn from_end(dir: &Path) -> LogFollower {
        let mut files = LogFiles::open(dir);
        let end = (&mut files).span().1;
        LogFollower {
            dir: dir.to_path_buf(),
            cursor: LogCursor(end),
            newest: None,
        }
    }

    /// Follows the log in `dir` from its start.
    pub fn from_start(dir: &Path) -> LogFollower {
        LogFollower {
            dir: dir.to_path_buf(),
            cursor: LogCursor(0),
            newest: None,
        }
    }

    /// The log's directory was renamed (a `--rm` container retired): the
    /// cursor stays, the files are looked for there.
    pub fn moved_to(&mut self, dir: &Path) {
        self.dir = dir.to_path_buf();
    }

    /// The records after the cursor, about `budget` bytes at most.
    pub fn read(&mut self, budget: usize) -> LogBatch {
        let query = |cursor| LogQuery {
            after: Some(cursor),
            max_bytes: budget,
            ..LogQuery::default()
        };
        if let Some(files) = &mut self.newest {
            files.refresh();
            let mut batch = anchorage_shared::console::read(&mut *files, &query(self.cursor));
            if batch.skipped == 0 {
                self.cursor = batch.next;
                if batch.more {
                    return batch;
                }
                // At the end of the file held: if it is no longer the
                // newest (it rotated), what follows is in the files after.
                let rotated = fs::metadata(self.dir.join(NEWEST)).map(|m| m.ino()).ok()
                    != files.files.last().map(|f| f.ino);
                if !rotated {
                    return batch;
                }
                self.newest = None;
                if !batch.lines.is_empty() {
                    batch.more = true;
                    return batch;
                }
            }
        }
        let mut files = LogFiles::open(&self.dir);
        let batch = anchorage_shared::console::read(&mut files, &query(self.cursor));
        self.cursor = batch.next;
        // Keep the newest file open once the cursor is in it.
        let in_newest = files.files.last().is_some_and(|f| f.base <= batch.next.0);
        self.newest = in_newest.then(|| {
            let newest = files.files.pop();
            LogFiles {
                files: newest.into_iter().collect(),
                window: (0, 0, Vec::new()),
            }
        });
        batch
    }

    /// Jumps to the end: what is there now is not read (it came faster
    /// than it can be shown); returns how many bytes were passed over.
    pub fn skip_to_end(&mut self) -> u64 {
        let mut files = LogFiles::open(&self.dir);
        let end = (&mut files).span().1;
        let skipped = end.saturating_sub(self.cursor.0);
        self.cursor = LogCursor(end.max(self.cursor.0));
        self.newest = None;
        skipped
    }

    /// Bytes written and not read yet, as of the newest file's size.
    pub fn behind(&mut self) -> u64 {
        let mut files = LogFiles::open(&self.dir);
        (&mut files).span().1.saturating_sub(self.cursor.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(batch: &LogBatch) -> String {
        batch
            .lines
            .iter()
            .map(|l| l.data.text().into_owned())
            .collect()
    }

    #[test]
    fn records_read_back_as_written_forwards_and_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        writer.write(1, Stream::Stdout, b"one\ntwo\n");
        writer.write(2, Stream::Stderr, b"three\n");
        writer.write(3, Stream::Stdout, &[0, 1, 2, 255]);
        writer.finish(4);
        let all = read(dir.path(), &LogQuery::default());
        assert_eq!(all.lines.len(), 4);
        assert_eq!(all.lines[2].stream, Stream::Stderr);
        assert_eq!(all.lines[3].data.as_bytes(), &[0, 1, 2, 255]);
        assert!(all.lines[3].partial);
        let tail = read(
            dir.path(),
            &LogQuery {
                tail: Some(2),
                ..LogQuery::default()
            },
        );
        assert_eq!(tail.lines.len(), 2);
        assert_eq!(tail.lines[0].data.text(), "three\n");
        // A writer reopened goes on after what is there.
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        writer.write(5, Stream::Stdout, b"four\n");
        writer.flush();
        assert!(text(&read(dir.path(), &LogQuery::default())).ends_with("four\n"));
    }

    #[test]
    fn a_record_cut_short_is_never_read_and_a_new_writer_cuts_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        writer.write(1, Stream::Stdout, b"whole\n");
        writer.flush();
        drop(writer);
        // A writer killed in the middle of its next record.
        let path = dir.path().join(NEWEST);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        let tail = read(
            dir.path(),
            &LogQuery {
                tail: Some(1),
                ..LogQuery::default()
            },
        );
        assert_eq!(text(&tail), "whole\n");
        let mut writer = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
        writer.write(2, Stream::Stdout, b"next\n");
        writer.flush();
        assert_eq!(
            text(&read(dir.path(), &LogQuery::default())),
            "whole\nnext\n"
        );
    }

    #[test]
    fn files_rotate_at_max_size_and_at_most_max_file_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            max_size: LogOptions::MIN_SIZE,
            max_file: 3,
        };
        let mut writer = LogWriter::open(dir.path(), options).unwrap();
        let mut follower = LogFollower::from_start(dir.path());
        let mut seen = 0u64;
        let mut skipped = 0;
        for i in 0..20_000u64 {
            writer.write(i, Stream::Stdout, format!("line {i:06}\n").as_bytes());
            if i % 1000 == 999 {
                writer.flush();
                loop {
                    let batch = follower.read(usize::MAX);
                    skipped += batch.skipped;
                    seen += batch.lines.len() as u64;
                    if !batch.more {
                        break;
                    }
                }
            }
        }
        writer.finish(20_000);
        assert_eq!(seen, 20_000, "a follower keeping up misses nothing");
        assert_eq!(skipped, 0);
        let on_disk: u64 = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(
            on_disk <= options.total() + 3 * HEADER,
            "{on_disk} bytes on disk"
        );
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        // A reader from the start learns what rotated away.
        let batch = read(
            dir.path(),
            &LogQuery {
                after: Some(LogCursor(0)),
                max_bytes: usize::MAX,
                ..LogQuery::default()
            },
        );
        assert!(batch.skipped > 0);
        assert_eq!(
            batch.lines.last().unwrap().data.text(),
            "line 019999\n",
            "the newest line is kept"
        );
        let first: u64 = batch.lines[0].data.text()[5..11].parse().unwrap();
        for (i, line) in batch.lines.iter().enumerate() {
            assert_eq!(line.data.text(), format!("line {:06}\n", first + i as u64));
        }
    }

    #[test]
    fn a_follower_far_behind_is_told_what_it_missed() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            max_size: LogOptions::MIN_SIZE,
            max_file: 2,
        };
        let mut writer = LogWriter::open(dir.path(), options).unwrap();
        let mut follower = LogFollower::from_start(dir.path());
        writer.write(0, Stream::Stdout, b"first\n");
        writer.flush();
        assert_eq!(text(&follower.read(1 << 20)), "first\n");
        for i in 0..10_000u64 {
            writer.write(i, Stream::Stdout, b"0123456789abcdef\n");
        }
        writer.flush();
        let (mut skipped, mut lines) = (0, 0);
        loop {
            let batch = follower.read(1 << 20);
            skipped += batch.skipped;
            lines += batch.lines.len();
            if !batch.more {
                break;
            }
        }
        assert!(skipped > 0, "it fell a whole file behind");
        assert!(lines > 0);
        assert_eq!(follower.skip_to_end(), 0);
        assert_eq!(follower.behind(), 0);
    }
}
