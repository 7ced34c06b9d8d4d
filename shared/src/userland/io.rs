//! What the portable applets read and write with: buffered standard
//! output, messages on standard error in BusyBox's form (`grep: f: No
//! such file or directory`), and inputs read a line at a time, all over
//! the shell's system-call seam ([`Os`]) so they run the same on both
//! engines.

use crate::shell::os::{Fd, Open, Os, WriteError};

/// Standard output could take no more (its reader is gone and SIGPIPE
/// did not end the program): the applet stops, with status 1.
#[derive(Debug)]
pub struct Stop;

pub type Out = Result<(), Stop>;

/// How much output is kept before it is written: a C program's stdio
/// buffer.
const BUFFER: usize = 4096;

/// How many bytes a program may hold before it tells the system again
/// (see [`Io::hold`]).
const HOLD_STEP: u64 = 256 * 1024;

pub struct Io<'a, O: Os> {
    pub os: &'a mut O,
    /// The applet's name, which starts its messages.
    pub name: &'a str,
    /// `KEY=value`, the environment it was started with.
    pub env: &'a [String],
    out: Vec<u8>,
    /// What it holds in memory, and what it has told the system of.
    held: u64,
    told: u64,
    /// Whether a message was said: the applet ends with a failure.
    pub failed: bool,
}

impl<'a, O: Os> Io<'a, O> {
    pub fn new(os: &'a mut O, name: &'a str, env: &'a [String]) -> Io<'a, O> {
        Io {
            os,
            name,
            env,
            out: Vec::new(),
            held: 0,
            told: 0,
            failed: false,
        }
    }

    pub fn var(&self, key: &str) -> Option<&'a str> {
        self.env
            .iter()
            .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    /// Adds to standard output.
    pub async fn put(&mut self, bytes: &[u8]) -> Out {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= BUFFER {
            self.flush().await?;
        }
        Ok(())
    }

    pub async fn put_str(&mut self, text: &str) -> Out {
        self.put(text.as_bytes()).await
    }

    pub async fn flush(&mut self) -> Out {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        match self.os.write(1, &out).await {
            Ok(()) => Ok(()),
            Err(WriteError::BrokenPipe) => Err(Stop),
            Err(WriteError::Other(message)) => {
                self.failed = true;
                let line = format!("{}: write error: {message}\n", self.name);
                let _ = self.os.write(2, line.as_bytes()).await;
                Err(Stop)
            }
        }
    }

    /// `NAME: message` on standard error; the applet will fail. What
    /// standard output holds goes first, as BusyBox's messages flush it.
    pub async fn say(&mut self, message: &str) {
        self.failed = true;
        let _ = self.flush().await;
        let line = format!("{}: {message}\n", self.name);
        let _ = self.os.write(2, line.as_bytes()).await;
    }

    /// Opens an operand for reading (`-` is standard input), or says why
    /// not (`NAME: FILE: No such file or directory`).
    pub async fn open(&mut self, operand: &str) -> Option<Input> {
        if operand == "-" {
            return Some(Input::new(0, false));
        }
        match self.os.open(operand, Open::Read).await {
            Ok(fd) => Some(Input::new(fd, true)),
            Err(message) => {
                self.say(&format!("{operand}: {message}")).await;
                None
            }
        }
    }

    /// A kernel file's whole text (`/proc/mounts`, `/proc/PID/stat`), up
    /// to `limit` bytes: what a C program's loop over `fgets` would read.
    pub async fn slurp(&mut self, path: &str, limit: usize) -> Result<String, String> {
        let fd = self.os.open(path, Open::Read).await?;
        let mut data = Vec::new();
        while data.len() < limit {
            match self.os.read(fd, 8192).await {
                Ok(chunk) if chunk.is_empty() => break,
                Ok(chunk) => data.extend(chunk),
                Err(message) => {
                    self.os.close(fd).await;
                    return Err(message);
                }
            }
        }
        self.os.close(fd).await;
        data.truncate(limit);
        Ok(String::from_utf8_lossy(&data).into_owned())
    }

    pub async fn close(&mut self, input: Input) {
        if input.owned {
            self.os.close(input.fd).await;
        }
    }

    /// The applet now holds `bytes` more in memory (lines `sort` keeps):
    /// a real kernel counts that itself; the simulated one is told every
    /// so often, so the memory cgroup sees it and its OOM killer may act.
    pub async fn hold(&mut self, bytes: u64) {
        self.held = self.held.saturating_add(bytes);
        self.tell().await;
    }

    /// It let go of `bytes` it held (`tail`'s oldest line).
    pub async fn release(&mut self, bytes: u64) {
        self.held = self.held.saturating_sub(bytes);
        self.tell().await;
    }

    async fn tell(&mut self) {
        let change = self.held as i64 - self.told as i64;
        if change.unsigned_abs() >= HOLD_STEP {
            self.told = self.held;
            self.os.hold(change).await;
        }
    }
}

/// An open input, read a line at a time.
pub struct Input {
    pub fd: Fd,
    owned: bool,
    buf: Vec<u8>,
    start: usize,
    /// How far past `start` has been searched for the end of a record.
    scanned: usize,
    ended: bool,
    /// What the buffer holds that has been told to the system (a line
    /// longer than a pipe's worth is memory the program holds).
    charged: u64,
}

/// A record shorter than this costs nothing worth telling.
const SMALL_RECORD: usize = 65536;

impl Input {
    /// Standard input, which is not closed after.
    pub fn standard() -> Input {
        Input::new(0, false)
    }

    /// A descriptor the applet opened, closed after.
    pub fn owned(fd: Fd) -> Input {
        Input::new(fd, true)
    }

    fn new(fd: Fd, owned: bool) -> Input {
        Input {
            fd,
            owned,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            ended: false,
            charged: 0,
        }
    }

    /// The next line with its `\n` (the last may have none), `None` at
    /// the end, or the read's error.
    pub async fn line<O: Os>(&mut self, io: &mut Io<'_, O>) -> Result<Option<Vec<u8>>, String> {
        self.until(io, b'\n').await
    }

    /// The next record ending in `end` (a line, or a NUL-ended name).
    pub async fn until<O: Os>(
        &mut self,
        io: &mut Io<'_, O>,
        end: u8,
    ) -> Result<Option<Vec<u8>>, String> {
        loop {
            let from = self.start + self.scanned;
            if let Some(at) = self.buf[from..].iter().position(|b| *b == end) {
                let stop = from + at + 1;
                let record = self.buf[self.start..stop].to_vec();
                self.start = stop;
                self.scanned = 0;
                self.settle(io).await;
                return Ok(Some(record));
            }
            self.scanned = self.buf.len() - self.start;
            if self.ended {
                self.scanned = 0;
                if self.start < self.buf.len() {
                    let record = self.buf[self.start..].to_vec();
                    self.start = self.buf.len();
                    self.settle(io).await;
                    return Ok(Some(record));
                }
                return Ok(None);
            }
            self.fill(io).await?;
        }
    }

    /// What the next read gives, as it comes; `None` at the end.
    pub async fn chunk<O: Os>(&mut self, io: &mut Io<'_, O>) -> Result<Option<Vec<u8>>, String> {
        if self.start == self.buf.len() && !self.ended {
            self.fill(io).await?;
        }
        self.scanned = 0;
        if self.start < self.buf.len() {
            let rest = self.buf[self.start..].to_vec();
            self.start = self.buf.len();
            self.settle(io).await;
            Ok(Some(rest))
        } else {
            Ok(None)
        }
    }

    async fn fill<O: Os>(&mut self, io: &mut Io<'_, O>) -> Result<(), String> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let data = io.os.read(self.fd, 65536).await?;
        if data.is_empty() {
            self.ended = true;
        }
        self.buf.extend(data);
        self.settle(io).await;
        Ok(())
    }

    /// Tells the system what a long unfinished record holds, and what it
    /// gave back once it is read.
    async fn settle<O: Os>(&mut self, io: &mut Io<'_, O>) {
        let pending = self.buf.len() - self.start;
        let holds = if pending > SMALL_RECORD {
            pending as u64
        } else {
            0
        };
        if holds > self.charged {
            io.hold(holds - self.charged).await;
        } else if holds < self.charged {
            io.release(self.charged - holds).await;
        }
        self.charged = holds;
    }
}
