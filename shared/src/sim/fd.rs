//! File descriptors: each process's table of numbers, pointing at open
//! file descriptions the kernel shares between copies (`dup`, `fork`),
//! and pipes, which hold 64 KiB, block a writer when full and a reader
//! when empty, give end of file once no writer is left and SIGPIPE to a
//! writer once no reader is.

use std::collections::{BTreeMap, VecDeque};

use crate::engine::{Event, Stream};
use crate::process::{ExitStatus, Pid, Signal};

use super::SimEngine;
use super::files::Place;
use super::fs::Errno;
use super::process::Sink;

/// What a pipe holds before its writer waits (Linux's default).
pub(crate) const PIPE_CAPACITY: usize = 65536;

/// What an open file description is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Open {
    /// Where output goes: a console, a terminal, a file (appended to).
    Sink(Sink),
    /// `/dev/null`, or a terminal nothing is typed on: reads see the end.
    Null,
    /// A file open for reading, by absolute path in its reader's mount
    /// namespace, and how far it has been read.
    Read {
        path: String,
        offset: usize,
    },
    PipeRead(u64),
    PipeWrite(u64),
    /// A character device of the memory class: `/dev/zero` and
    /// `/dev/full` read as zeros, `/dev/random` and `/dev/urandom` as
    /// the simulator's own pseudo-random bytes (`read` counts what came,
    /// so each read differs); `/dev/full` refuses writes.
    Device {
        major: u32,
        minor: u32,
        read: u64,
    },
}

/// A device the simulator can open: the memory devices.
pub(crate) fn device_open(major: u32, minor: u32) -> Result<Open, Errno> {
    match (major, minor) {
        (1, 3) => Ok(Open::Null),
        (1, 5 | 7 | 8 | 9) => Ok(Open::Device {
            major,
            minor,
            read: 0,
        }),
        // `/dev/tty` with no controlling terminal.
        (5, 0) => Err(Errno::NxIo),
        _ => Err(Errno::NoDev),
    }
}

/// splitmix64: the simulator's pseudo-random bytes, the same for the
/// same description and position (the simulation stays reproducible).
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut state = seed;
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The most a read of a memory device gives at once: Linux gives all a
/// read asks; the simulator, which holds it in the page's memory, up to
/// 16 MiB (a bigger read returns short, as a read may).
const DEVICE_READ: usize = 16 << 20;

#[derive(Clone, Debug)]
pub(crate) struct Description {
    pub open: Open,
    /// How many descriptors, in every process, point at it.
    pub refs: usize,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Pipe {
    pub buffer: VecDeque<u8>,
    pub readers: usize,
    pub writers: usize,
}

/// One descriptor of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fd {
    pub description: u64,
    pub cloexec: bool,
}

/// A process's descriptors.
pub(crate) type FdTable = BTreeMap<i32, Fd>;

/// The kernel's open file descriptions and pipes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Files {
    descriptions: BTreeMap<u64, Description>,
    pipes: BTreeMap<u64, Pipe>,
    next: u64,
}

/// What a read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReadResult {
    Data(Vec<u8>),
    /// End of file.
    End,
    /// Nothing yet, and a writer may still write.
    Wait,
    Error(String),
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WriteResult {
    /// This many bytes went (fewer than asked when a pipe filled up).
    Wrote(usize),
    /// A pipe is full: nothing went.
    Wait,
    /// No reader is left: SIGPIPE.
    Broken,
    Error(String),
}

impl Files {
    pub fn open(&mut self, open: Open) -> u64 {
        self.next += 1;
        let id = self.next;
        match &open {
            Open::PipeRead(pipe) => self.pipes.entry(*pipe).or_default().readers += 1,
            Open::PipeWrite(pipe) => self.pipes.entry(*pipe).or_default().writers += 1,
            _ => {}
        }
        self.descriptions.insert(id, Description { open, refs: 0 });
        id
    }

    pub fn pipe(&mut self) -> (u64, u64) {
        self.next += 1;
        let pipe = self.next;
        self.pipes.insert(pipe, Pipe::default());
        (
            self.open(Open::PipeRead(pipe)),
            self.open(Open::PipeWrite(pipe)),
        )
    }

    pub fn get(&self, id: u64) -> Option<&Description> {
        self.descriptions.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Description> {
        self.descriptions.get_mut(&id)
    }

    pub fn pipe_of(&self, id: u64) -> Option<&Pipe> {
        self.pipes.get(&id)
    }

    pub fn pipe_mut(&mut self, id: u64) -> Option<&mut Pipe> {
        self.pipes.get_mut(&id)
    }

    pub fn hold(&mut self, id: u64) {
        if let Some(d) = self.descriptions.get_mut(&id) {
            d.refs += 1;
        }
    }

    /// One descriptor less points at `id`: the description goes with its
    /// last one, and a pipe with its last end.
    pub fn release(&mut self, id: u64) {
        let Some(d) = self.descriptions.get_mut(&id) else {
            return;
        };
        d.refs = d.refs.saturating_sub(1);
        if d.refs > 0 {
            return;
        }
        let Some(d) = self.descriptions.remove(&id) else {
            return;
        };
        let pipe = match d.open {
            Open::PipeRead(pipe) => {
                if let Some(p) = self.pipes.get_mut(&pipe) {
                    p.readers -= 1;
                }
                pipe
            }
            Open::PipeWrite(pipe) => {
                if let Some(p) = self.pipes.get_mut(&pipe) {
                    p.writers -= 1;
                }
                pipe
            }
            _ => return,
        };
        if self
            .pipes
            .get(&pipe)
            .is_some_and(|p| p.readers == 0 && p.writers == 0)
        {
            self.pipes.remove(&pipe);
        }
    }
}

impl SimEngine {
    /// A table for a new process's standard streams: nothing to read,
    /// output to `out` and `err`.
    pub(crate) fn std_fds(&mut self, out: Sink, err: Sink) -> FdTable {
        let mut table = FdTable::new();
        for (fd, open) in [(0, Open::Null), (1, Open::Sink(out)), (2, Open::Sink(err))] {
            let id = self.files.open(open);
            self.files.hold(id);
            table.insert(
                fd,
                Fd {
                    description: id,
                    cloexec: false,
                },
            );
        }
        table
    }

    /// A copy of a table for a child (`fork`): every description held
    /// once more.
    pub(crate) fn copy_fds(&mut self, table: &FdTable) -> FdTable {
        for fd in table.values() {
            self.files.hold(fd.description);
        }
        table.clone()
    }

    /// Lets go of a whole table (a process ended, or a table unused).
    pub(crate) fn drop_fds(&mut self, table: FdTable) {
        for fd in table.into_values() {
            self.files.release(fd.description);
        }
    }

    /// `execve` closes what was marked close-on-exec.
    pub(crate) fn close_on_exec(&mut self, pid: Pid) {
        let Some(p) = self.processes.get_mut(&pid) else {
            return;
        };
        let closing: Vec<i32> = p
            .fds
            .iter()
            .filter(|(_, fd)| fd.cloexec)
            .map(|(n, _)| *n)
            .collect();
        for n in closing {
            self.fd_close(pid, n);
        }
    }

    /// Puts a new description at the lowest free descriptor at or above
    /// `lowest`.
    pub(crate) fn fd_install(&mut self, pid: Pid, open: Open, lowest: i32, cloexec: bool) -> i32 {
        let id = self.files.open(open);
        self.fd_point(pid, id, lowest, cloexec)
    }

    fn fd_point(&mut self, pid: Pid, id: u64, lowest: i32, cloexec: bool) -> i32 {
        self.files.hold(id);
        let Some(p) = self.processes.get_mut(&pid) else {
            self.files.release(id);
            return -1;
        };
        let mut n = lowest;
        while p.fds.contains_key(&n) {
            n += 1;
        }
        p.fds.insert(
            n,
            Fd {
                description: id,
                cloexec,
            },
        );
        n
    }

    pub(crate) fn fd_close(&mut self, pid: Pid, n: i32) {
        if let Some(fd) = self.processes.get_mut(&pid).and_then(|p| p.fds.remove(&n)) {
            self.files.release(fd.description);
        }
    }

    /// `fcntl(F_DUPFD_CLOEXEC, lowest)`.
    pub(crate) fn fd_dup(&mut self, pid: Pid, n: i32, lowest: i32) -> Option<i32> {
        let id = self.processes.get(&pid)?.fds.get(&n)?.description;
        Some(self.fd_point(pid, id, lowest, true))
    }

    /// `dup2`: `to` points where `from` does (and stays open on exec).
    pub(crate) fn fd_dup2(&mut self, pid: Pid, from: i32, to: i32) -> bool {
        let Some(id) = self
            .processes
            .get(&pid)
            .and_then(|p| p.fds.get(&from))
            .map(|fd| fd.description)
        else {
            return false;
        };
        if from == to {
            return true;
        }
        self.fd_close(pid, to);
        self.files.hold(id);
        if let Some(p) = self.processes.get_mut(&pid) {
            p.fds.insert(
                to,
                Fd {
                    description: id,
                    cloexec: false,
                },
            );
        }
        true
    }

    /// A process's pipe: its read end and write end (close-on-exec, as
    /// the shell keeps them).
    pub(crate) fn fd_pipe(&mut self, pid: Pid) -> (i32, i32) {
        let (read, write) = self.files.pipe();
        let r = self.fd_point(pid, read, 0, true);
        let w = self.fd_point(pid, write, 0, true);
        (r, w)
    }

    pub(crate) fn description_of(&self, pid: Pid, n: i32) -> Option<u64> {
        Some(self.processes.get(&pid)?.fds.get(&n)?.description)
    }

    /// Reads up to `max` bytes from a descriptor.
    pub(crate) fn fd_read(&mut self, pid: Pid, n: i32, max: usize) -> ReadResult {
        let Some(id) = self.description_of(pid, n) else {
            return ReadResult::Error("Bad file descriptor".into());
        };
        let Some(open) = self.files.get(id).map(|d| d.open.clone()) else {
            return ReadResult::Error("Bad file descriptor".into());
        };
        match open {
            Open::Null => ReadResult::End,
            Open::Device { major, minor, read } => {
                let len = max.min(DEVICE_READ);
                let data = if minor == 8 || minor == 9 {
                    random_bytes(id.wrapping_mul(0x1000_0000_01b3) ^ read, len)
                } else {
                    vec![0; len]
                };
                let _ = major;
                if let Some(Description {
                    open: Open::Device { read, .. },
                    ..
                }) = self.files.get_mut(id)
                {
                    *read += len as u64;
                }
                ReadResult::Data(data)
            }
            Open::Sink(_) | Open::PipeWrite(_) => ReadResult::Error("Bad file descriptor".into()),
            Open::PipeRead(pipe) => {
                let Some(p) = self.files.pipe_mut(pipe) else {
                    return ReadResult::End;
                };
                if p.buffer.is_empty() {
                    return if p.writers == 0 {
                        ReadResult::End
                    } else {
                        ReadResult::Wait
                    };
                }
                let take = max.min(p.buffer.len());
                ReadResult::Data(p.buffer.drain(..take).collect())
            }
            Open::Read { path, offset } => match self.read_at(pid, &path, offset, max) {
                Ok(bytes) if bytes.is_empty() => ReadResult::End,
                Ok(bytes) => {
                    if let Some(Description {
                        open: Open::Read { offset, .. },
                        ..
                    }) = self.files.get_mut(id)
                    {
                        *offset += bytes.len();
                    }
                    ReadResult::Data(bytes)
                }
                Err(err) => ReadResult::Error(err.message().into()),
            },
        }
    }

    /// `lseek(SEEK_SET)`: files move, devices stay at 0, pipes and
    /// terminals cannot seek.
    pub(crate) fn fd_seek(&mut self, pid: Pid, n: i32, to: i64) -> Result<u64, Errno> {
        let id = self.description_of(pid, n).ok_or(Errno::BadF)?;
        let description = self.files.get_mut(id).ok_or(Errno::BadF)?;
        let to = usize::try_from(to).map_err(|_| Errno::Inval)?;
        match &mut description.open {
            Open::Read { offset, .. } => *offset = to,
            Open::Sink(Sink::File { at, .. }) => {
                if let Some(at) = at {
                    *at = to;
                }
            }
            Open::Null | Open::Device { .. } => return Ok(0),
            Open::PipeRead(_)
            | Open::PipeWrite(_)
            | Open::Sink(Sink::Console(_) | Sink::Terminal(_)) => return Err(Errno::SPipe),
            Open::Sink(Sink::Control { .. }) => {}
        }
        Ok(to as u64)
    }

    /// `ftruncate`: a file open for writing, cut or grown with zeros.
    pub(crate) fn fd_truncate(&mut self, pid: Pid, n: i32, len: u64) -> Result<(), Errno> {
        let id = self.description_of(pid, n).ok_or(Errno::BadF)?;
        let open = self
            .files
            .get(id)
            .map(|d| d.open.clone())
            .ok_or(Errno::BadF)?;
        match open {
            Open::Sink(Sink::File { path, .. }) => self.truncate_file(pid, &path, len),
            _ => Err(Errno::Inval),
        }
    }

    /// Writes to a descriptor. With `whole`, a pipe takes it all even
    /// past its capacity (a program that writes its output at once and
    /// ends); otherwise as much as fits.
    pub(crate) fn fd_write(
        &mut self,
        pid: Pid,
        n: i32,
        data: &[u8],
        whole: bool,
        events: &mut Vec<Event>,
    ) -> WriteResult {
        let Some(id) = self.description_of(pid, n) else {
            return WriteResult::Error("Bad file descriptor".into());
        };
        let Some(open) = self.files.get(id).map(|d| d.open.clone()) else {
            return WriteResult::Error("Bad file descriptor".into());
        };
        match open {
            Open::Null => WriteResult::Wrote(data.len()),
            Open::Device { minor: 7, .. } => WriteResult::Error(Errno::NoSpc.message().into()),
            Open::Device { .. } => WriteResult::Wrote(data.len()),
            Open::Sink(Sink::File { path, at }) => {
                let place = match at {
                    Some(at) => Place::At(at),
                    None => Place::Append,
                };
                match self.store(pid, &path, data, place) {
                    Ok(end) => {
                        if let Some(Description {
                            open: Open::Sink(Sink::File { at: Some(at), .. }),
                            ..
                        }) = self.files.get_mut(id)
                        {
                            *at = end;
                        }
                        WriteResult::Wrote(data.len())
                    }
                    Err(err) => WriteResult::Error(err.message().into()),
                }
            }
            Open::Read { .. } | Open::PipeRead(_) => {
                WriteResult::Error("Bad file descriptor".into())
            }
            Open::Sink(Sink::Control { cgroup, file }) => {
                match self.write_control(pid, &cgroup, &file, data, events) {
                    Ok(()) => WriteResult::Wrote(data.len()),
                    Err(err) => WriteResult::Error(err.message().into()),
                }
            }
            Open::Sink(Sink::Console(stream)) => {
                self.write_stream(pid, stream, true, data, events);
                WriteResult::Wrote(data.len())
            }
            Open::Sink(Sink::Terminal(stream)) => {
                self.write_stream(pid, stream, false, data, events);
                WriteResult::Wrote(data.len())
            }
            Open::PipeWrite(pipe) => {
                let Some(p) = self.files.pipe_mut(pipe) else {
                    return WriteResult::Broken;
                };
                if p.readers == 0 {
                    return WriteResult::Broken;
                }
                let room = if whole {
                    data.len()
                } else {
                    PIPE_CAPACITY.saturating_sub(p.buffer.len()).min(data.len())
                };
                if room == 0 && !data.is_empty() {
                    return WriteResult::Wait;
                }
                p.buffer.extend(&data[..room]);
                WriteResult::Wrote(room)
            }
        }
    }

    /// A program's output, all of it at once (it writes and goes on): to
    /// a pipe whatever its fill, and SIGPIPE if no one reads.
    pub(crate) fn write_out(
        &mut self,
        pid: Pid,
        stream: Stream,
        text: String,
        events: &mut Vec<Event>,
    ) {
        if text.is_empty() {
            return;
        }
        let n = match stream {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        };
        if self.fd_write(pid, n, text.as_bytes(), true, events) == WriteResult::Broken {
            self.exit_process(pid, ExitStatus::Signaled(Signal::Pipe), events);
        }
    }

    /// Output to a terminal, or to the container's console, which is
    /// also its log.
    fn write_stream(
        &mut self,
        pid: Pid,
        stream: Stream,
        console: bool,
        data: &[u8],
        events: &mut Vec<Event>,
    ) {
        let container = self.processes.get(&pid).and_then(|p| p.container.clone());
        if console
            && let Some(c) = container
                .as_deref()
                .and_then(|id| self.containers.iter_mut().find(|c| c.info.id == id))
        {
            c.logs.write(self.clock_ms, stream, data);
        }
        events.push(Event::Output {
            container,
            pid,
            stream,
            data: data.to_vec().into(),
        });
    }

    /// The pipe behind a descriptor, and whether it is the read end.
    fn pipe_at(&self, pid: Pid, n: i32) -> Option<(&Pipe, bool)> {
        let (pipe, read) = match self.files.get(self.description_of(pid, n)?)?.open {
            Open::PipeRead(pipe) => (pipe, true),
            Open::PipeWrite(pipe) => (pipe, false),
            _ => return None,
        };
        Some((self.files.pipe_of(pipe)?, read))
    }

    /// Whether a write to the descriptor would go in now (a pipe with no
    /// reader takes it at once: the writer gets SIGPIPE).
    pub(crate) fn fd_has_room(&self, pid: Pid, n: i32) -> bool {
        match self.pipe_at(pid, n) {
            Some((p, false)) => p.readers == 0 || p.buffer.len() < PIPE_CAPACITY,
            _ => true,
        }
    }

    /// Whether a read of the descriptor would wait now.
    pub(crate) fn fd_would_wait(&self, pid: Pid, n: i32) -> bool {
        matches!(self.pipe_at(pid, n), Some((p, true)) if p.buffer.is_empty() && p.writers > 0)
    }
}
