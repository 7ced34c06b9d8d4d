//! A container's console log, as both engines keep it: records cut from
//! its output streams (a line each, a line over 16 KiB in pieces marked
//! partial), in files that rotate as Docker's `local` log driver rotates
//! them ([`LogOptions`]), and the one way to read them (`anchorage logs
//! --tail N --since T -f`): [`read`], over any [`LogSource`].
//!
//! The real engine keeps the records in files (`native/src/process/console.rs`);
//! the simulation keeps them in memory ([`MemoryLog`]) with the same record
//! sizes, so both rotate at the same points.

use std::collections::VecDeque;

use crate::chunk::Chunk;
use crate::container::LogOptions;
use crate::engine::{LogBatch, LogCursor, LogLine, LogQuery, Stream};

/// What a record costs beside its bytes: its length before and after it
/// (so a log reads backwards for `--tail`), its time, stream and flags.
pub const RECORD_OVERHEAD: u64 = 4 + 8 + 1 + 1 + 4;

/// The longest line a log keeps as one record; a longer one is cut into
/// pieces of this size, each marked partial (as Docker does).
pub const MAX_LINE_BYTES: usize = 16 << 10;

/// Cuts a stream into the records a log keeps: each line whole with its
/// newline, a line longer than [`MAX_LINE_BYTES`] in pieces of that size
/// marked partial, and what is left when the stream ends, partial. It
/// holds at most one unfinished line, and looks at each byte once.
#[derive(Clone, Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Takes the next bytes of the stream; `emit` gets each finished
    /// record and whether it is partial.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        while !data.is_empty() {
            let room = MAX_LINE_BYTES - self.pending.len();
            let window = &data[..data.len().min(room)];
            match window.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    if self.pending.is_empty() {
                        emit(&window[..=end], false);
                    } else {
                        self.pending.extend_from_slice(&window[..=end]);
                        emit(&self.pending, false);
                        self.pending.clear();
                    }
                    data = &data[end + 1..];
                }
                None if window.len() == room => {
                    if self.pending.is_empty() {
                        emit(window, true);
                    } else {
                        self.pending.extend_from_slice(window);
                        emit(&self.pending, true);
                        self.pending.clear();
                    }
                    data = &data[room..];
                }
                None => {
                    self.pending.extend_from_slice(window);
                    data = &[];
                }
            }
        }
    }

    /// The stream ended: what is left, as a partial record.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit(&self.pending, true);
            self.pending.clear();
        }
    }

    /// The bytes of the unfinished line it holds.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// Records to read, by position (bytes since the log began).
pub trait LogSource {
    /// The position of the oldest record kept, and of the log's end.
    fn span(&mut self) -> (u64, u64);
    /// The record at a record's position, and where the next one starts.
    fn record_at(&mut self, at: u64) -> Option<(LogLine, u64)>;
    /// The record that ends at `end`: where it starts, and it.
    fn record_before(&mut self, end: u64) -> Option<(u64, LogLine)>;
}

/// Reads what `query` asks of a log: from after its cursor (or the oldest
/// record kept), no older than `since_ms`, at most the last `tail` lines,
/// about `max_bytes` at most.
pub fn read(mut source: impl LogSource, query: &LogQuery) -> LogBatch {
    let (oldest, written) = source.span();
    let end = query.until.map_or(written, |until| until.0.min(written));
    let mut skipped = 0;
    let mut start = oldest;
    if let Some(LogCursor(after)) = query.after {
        if after >= written {
            // Nothing past it yet (or, for a moment, no file: a rotation
            // under way): the cursor stays where it is, never back.
            return LogBatch {
                next: LogCursor(after),
                end: LogCursor(written.max(after)),
                ..LogBatch::default()
            };
        }
        if after < oldest {
            skipped = oldest - after;
        } else {
            start = after.min(end);
        }
    }
    if let Some(lines) = query.tail {
        start = start.max(tail_start(&mut source, oldest, end, lines));
    }
    if let Some(since) = query.since_ms {
        while start < end {
            match source.record_at(start) {
                Some((line, next)) if line.at_ms < since => start = next,
                _ => break,
            }
        }
    }
    let mut lines = Vec::new();
    let mut bytes = 0;
    let mut at = start;
    while at < end && (lines.is_empty() || bytes < query.max_bytes) {
        let Some((line, next)) = source.record_at(at) else {
            break;
        };
        bytes += line.data.len();
        lines.push(line);
        at = next;
    }
    LogBatch {
        lines,
        next: LogCursor(at),
        more: at < end,
        skipped,
        end: LogCursor(written),
    }
}

/// Where the last `lines` lines begin: a line starts after each record
/// that ends one (a partial record's line goes on in the next).
fn tail_start(source: &mut impl LogSource, oldest: u64, end: u64, lines: usize) -> u64 {
    if lines == 0 {
        return end;
    }
    let mut at = end;
    let mut seen = 0;
    while at > oldest {
        let Some((start, line)) = source.record_before(at) else {
            break;
        };
        if !line.partial && at != end {
            seen += 1;
            if seen == lines {
                return at;
            }
        }
        at = start;
    }
    oldest
}

/// A console log kept in memory, rotated as the real engine rotates its
/// files: the simulation's.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    options: LogOptions,
    /// Each record with its position, oldest first.
    records: VecDeque<(u64, LogLine)>,
    /// Where each kept file starts, oldest first.
    files: VecDeque<u64>,
    /// The bytes of records in the newest file.
    file_bytes: u64,
    end: u64,
    stdout: LineSplitter,
    stderr: LineSplitter,
}

impl MemoryLog {
    pub fn new(options: LogOptions) -> MemoryLog {
        MemoryLog {
            options,
            files: VecDeque::from([0]),
            ..MemoryLog::default()
        }
    }

    /// Keeps what a stream got at `at_ms`.
    pub fn write(&mut self, at_ms: u64, stream: Stream, data: &[u8]) {
        let mut records = Vec::new();
        self.splitter(stream).push(data, |record, partial| {
            records.push((record.to_vec(), partial))
        });
        for (record, partial) in records {
            self.append(at_ms, stream, record, partial);
        }
    }

    /// The streams ended: their unfinished lines are kept as they are.
    pub fn finish(&mut self, at_ms: u64) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let mut rest = None;
            self.splitter(stream)
                .finish(|record, _| rest = Some(record.to_vec()));
            if let Some(record) = rest {
                self.append(at_ms, stream, record, true);
            }
        }
    }

    fn splitter(&mut self, stream: Stream) -> &mut LineSplitter {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    fn append(&mut self, at_ms: u64, stream: Stream, data: Vec<u8>, partial: bool) {
        let size = data.len() as u64 + RECORD_OVERHEAD;
        if self.file_bytes > 0 && self.file_bytes + size > self.options.max_size {
            self.files.push_back(self.end);
            self.file_bytes = 0;
            while self.files.len() > self.options.max_file as usize {
                self.files.pop_front();
                let oldest = self.files[0];
                while self.records.front().is_some_and(|(at, _)| *at < oldest) {
                    self.records.pop_front();
                }
            }
        }
        self.records.push_back((
            self.end,
            LogLine {
                at_ms,
                stream,
                data: Chunk(data),
                partial,
            },
        ));
        self.end += size;
        self.file_bytes += size;
    }

    fn index_of(&self, at: u64) -> Result<usize, usize> {
        self.records.binary_search_by_key(&at, |(pos, _)| *pos)
    }
}

impl LogSource for &MemoryLog {
    fn span(&mut self) -> (u64, u64) {
        (self.files[0], self.end)
    }

    fn record_at(&mut self, at: u64) -> Option<(LogLine, u64)> {
        let index = self.index_of(at).ok()?;
        let line = self.records[index].1.clone();
        let next = at + line.data.len() as u64 + RECORD_OVERHEAD;
        Some((line, next))
    }

    fn record_before(&mut self, end: u64) -> Option<(u64, LogLine)> {
        let index = match self.index_of(end) {
            Ok(index) | Err(index) => index.checked_sub(1)?,
        };
        let (at, line) = &self.records[index];
        Some((*at, line.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut splitter = LineSplitter::default();
        let mut records = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |r, partial| records.push((r.to_vec(), partial)));
            assert!(splitter.pending() < MAX_LINE_BYTES);
        }
        splitter.finish(|r, partial| records.push((r.to_vec(), partial)));
        records
    }

    #[test]
    fn lines_are_records_and_long_ones_are_cut_into_partial_pieces() {
        assert_eq!(
            split(&[b"a\nb", b"c\n", b"tail"]),
            vec![
                (b"a\n".to_vec(), false),
                (b"bc\n".to_vec(), false),
                (b"tail".to_vec(), true)
            ]
        );
        let long = vec![b'x'; MAX_LINE_BYTES * 2 + 10];
        let records = split(&[&long[..100], &long[100..], b"\n"]);
        assert_eq!(records.len(), 3);
        assert!(records[0].1 && records[1].1 && !records[2].1);
        assert_eq!(records[0].0.len(), MAX_LINE_BYTES);
        assert_eq!(records[2].0.len(), 11);
        let total: usize = records.iter().map(|(r, _)| r.len()).sum();
        assert_eq!(total, long.len() + 1);
    }

    fn text(batch: &LogBatch) -> String {
        batch
            .lines
            .iter()
            .map(|l| l.data.text().into_owned())
            .collect()
    }

    fn query() -> LogQuery {
        LogQuery::default()
    }

    #[test]
    fn tail_counts_lines_and_since_skips_older_records() {
        let mut log = MemoryLog::new(LogOptions::default());
        log.write(10, Stream::Stdout, b"one\ntwo\n");
        log.write(20, Stream::Stderr, b"three\n");
        log.write(30, Stream::Stdout, b"four, unfinished");
        log.finish(40);
        assert_eq!(
            text(&read(&log, &query())),
            "one\ntwo\nthree\nfour, unfinished"
        );
        let tail = |n| LogQuery {
            tail: Some(n),
            ..query()
        };
        assert_eq!(text(&read(&log, &tail(1))), "four, unfinished");
        assert_eq!(text(&read(&log, &tail(2))), "three\nfour, unfinished");
        assert_eq!(text(&read(&log, &tail(0))), "");
        assert_eq!(read(&log, &tail(99)).lines.len(), 4);
        let since = LogQuery {
            since_ms: Some(20),
            ..query()
        };
        assert_eq!(text(&read(&log, &since)), "three\nfour, unfinished");
        let both = LogQuery {
            since_ms: Some(20),
            tail: Some(3),
            ..query()
        };
        assert_eq!(text(&read(&log, &both)), "three\nfour, unfinished");
    }

    #[test]
    fn a_follower_gets_what_came_after_its_cursor_in_batches() {
        let mut log = MemoryLog::new(LogOptions::default());
        for i in 0..100 {
            log.write(i, Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        let mut q = LogQuery {
            max_bytes: 100,
            ..query()
        };
        let mut all = String::new();
        loop {
            let batch = read(&log, &q);
            assert!(batch.lines.len() <= 15);
            all.push_str(&text(&batch));
            q.after = Some(batch.next);
            if !batch.more {
                break;
            }
        }
        log.write(100, Stream::Stdout, b"late\n");
        all.push_str(&text(&read(&log, &q)));
        assert!(all.starts_with("line 0\n") && all.ends_with("line 99\nlate\n"));
    }

    #[test]
    fn rotation_keeps_the_newest_files_and_reports_what_a_reader_missed() {
        let options = LogOptions {
            max_size: LogOptions::MIN_SIZE,
            max_file: 2,
        };
        let mut log = MemoryLog::new(options);
        let line = vec![b'y'; 1000];
        let mut kept = 0;
        for i in 0..1000 {
            let mut data = line.clone();
            data.push(b'\n');
            log.write(i, Stream::Stdout, &data);
            kept += 1;
        }
        let batch = read(
            &log,
            &LogQuery {
                max_bytes: usize::MAX,
                after: Some(LogCursor(0)),
                ..query()
            },
        );
        let bytes: u64 = batch
            .lines
            .iter()
            .map(|l| l.data.len() as u64 + RECORD_OVERHEAD)
            .sum();
        assert!(bytes <= options.total(), "{bytes} kept of {kept} lines");
        assert!(bytes > options.max_size, "a whole older file is kept");
        assert!(batch.skipped > 0);
        assert_eq!(batch.lines.last().unwrap().at_ms, 999);
    }
}
