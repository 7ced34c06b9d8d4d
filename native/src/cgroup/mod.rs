//! Cgroups on a real host: the fourth noun, for the real engine.
//!
//! Linux hosts mount cgroups in one of three layouts (`CgroupLayout`): one
//! cgroup2 hierarchy (unified, v2), one v1 hierarchy per controller
//! (legacy), or v1 controllers plus a cgroup2 mount that holds no
//! controllers (hybrid, as on this project's CI machine). [`detect`] reads
//! the layout from `/proc/self/mountinfo`; [`Cgroup`] creates a container's
//! cgroup in it, applies the model's limits (written as v2 files, or
//! translated to their v1 names), moves processes in, reads usage back in
//! the model's v2 terms, and removes it, killing what is left.
//!
//! The seam to the kernel is the file system under the mount points: the
//! logic here is tested against a scratch directory laid out like
//! cgroupfs, and the root-only tests in `tests/` run it on the real one.

mod layout;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use layout::{CgroupMount, Controller, Layout, container_view, detect, host_container_view};

use anchorage_shared::cgroup::{CgroupLimits, CgroupUsage};

/// What went wrong with a cgroup; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot {action} {path}: {source} ({hint})")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },
    #[error("{0}")]
    Layout(String),
    #[error("cgroup {path} still has processes after they were killed: {pids:?}")]
    Busy { path: PathBuf, pids: Vec<u32> },
}

/// The hint for an I/O error on cgroupfs.
fn hint(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::PermissionDenied => {
            "cgroups need root, or a cgroup v2 subtree delegated to your user (systemd does this for user sessions)"
        }
        io::ErrorKind::NotFound => "the controller is not enabled here: check /proc/self/mountinfo",
        _ => "see the kernel's cgroup documentation for this file",
    }
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<(), CgroupError> {
    fs::write(path, contents).map_err(|source| CgroupError::Io {
        action: "write",
        path: path.to_path_buf(),
        hint: hint(&source),
        source,
    })
}

pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Io {
        action: "read",
        path: path.to_path_buf(),
        hint: hint(&source),
        source,
    })
}

/// Reads a file that older kernels lack: `None` when it is missing.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, CgroupError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Io {
            action: "read",
            path: path.to_path_buf(),
            hint: hint(&source),
            source,
        }),
    }
}

/// `KEY VALUE` lines (`cpu.stat`, `memory.events`, `memory.oom_control`).
pub(crate) fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

/// A number file (`memory.current`); `max` and garbage read as 0.
pub(crate) fn number(text: &str) -> u64 {
    text.trim().parse().unwrap_or(0)
}

fn mkdir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Io {
            action: "create",
            path: path.to_path_buf(),
            hint: hint(&source),
            source,
        }),
    }
}

/// The pids in a `cgroup.procs` file.
fn procs(path: &Path) -> Result<Vec<u32>, CgroupError> {
    Ok(read_optional(path)?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// Stops [`Cgroup::warm_attach`]'s helper when dropped.
pub enum WarmAttach {
    Nothing,
    Process(nix::unistd::Pid),
    Thread(std::sync::Arc<std::sync::atomic::AtomicBool>),
}

impl Drop for WarmAttach {
    fn drop(&mut self) {
        match self {
            WarmAttach::Nothing => {}
            WarmAttach::Process(pid) => {
                let _ = nix::sys::signal::kill(*pid, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(*pid, None);
            }
            WarmAttach::Thread(stop) => stop.store(true, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// One container's cgroup, in every hierarchy the layout has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    layout: Layout,
    /// The cgroup's path from the root of each hierarchy, such as
    /// `/anchorage/0123abcd`.
    path: String,
    /// Where a v1 controller's path differs (a process another runtime
    /// placed: each hierarchy may nest it elsewhere).
    v1_paths: BTreeMap<Controller, String>,
}

impl Cgroup {
    /// Creates (or reuses) the cgroup at `path` (such as
    /// `/anchorage/ID`) in every hierarchy, with its parents, and enables
    /// the memory, pids and cpu controllers down to it on v2.
    pub fn create(layout: &Layout, path: &str) -> Result<Cgroup, CgroupError> {
        let cgroup = Cgroup {
            layout: layout.clone(),
            path: path.to_string(),
            v1_paths: BTreeMap::new(),
        };
        for dir in cgroup.dirs() {
            let base = dir.0;
            let mut at = base.to_path_buf();
            for part in path.split('/').filter(|p| !p.is_empty()) {
                if matches!(layout, Layout::Unified { .. }) {
                    v2::enable_controllers(&at)?;
                }
                let parent = at.clone();
                at.push(part);
                mkdir(&at)?;
                inherit_cpuset(&parent, &at)?;
            }
        }
        Ok(cgroup)
    }

    /// The cgroup at `path`, without creating it (to clean up after a
    /// crash).
    pub fn open(layout: &Layout, path: &str) -> Cgroup {
        Cgroup {
            layout: layout.clone(),
            path: path.to_string(),
            v1_paths: BTreeMap::new(),
        }
    }

    /// The cgroup a process is in, from the text of its `/proc/PID/cgroup`
    /// (`4:memory:/a/b` per v1 hierarchy, `0::/a/b` for cgroup2), to read
    /// (never to change) what it uses.
    pub fn of_process(layout: &Layout, proc_cgroup: &str) -> Cgroup {
        let mut v2 = String::new();
        let mut v1_paths = BTreeMap::new();
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                v2 = path.to_string();
            }
            for name in controllers.split(',') {
                if let Some(controller) = Controller::ALL.iter().find(|c| c.name() == name) {
                    v1_paths.insert(*controller, path.to_string());
                }
            }
        }
        let path = match layout {
            Layout::Unified { .. } => v2,
            _ => v1_paths.get(&Controller::Memory).cloned().unwrap_or(v2),
        };
        Cgroup {
            layout: layout.clone(),
            path,
            v1_paths,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `cgroup.procs` file of each hierarchy: writing a pid to every
    /// one of them moves that process in.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .into_iter()
            .map(|(_, dir)| dir.join("cgroup.procs"))
            .collect()
    }

    /// Readies the kernel for moving a process into a cgroup soon.
    ///
    /// Every move into a cgroup (any hierarchy) takes the kernel's
    /// `cgroup_threadgroup_rwsem` for writing, and the first writer after
    /// a quiet spell waits for an RCU grace period (about 10 ms here);
    /// writers soon after pass at once. A helper that "moves" itself into
    /// the cgroup it is already in, every millisecond until the returned
    /// guard drops (or a second has passed), takes that wait while the
    /// caller gets on with starting a container, so the init's moves are
    /// quick. The helper is a forked process when the caller has a single
    /// thread (then nothing of it outlives the guard), else a thread.
    pub fn warm_attach(&self) -> WarmAttach {
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        // Our own cgroup in the first hierarchy of the layout.
        let target = self.dirs().into_iter().find_map(|(mount, _)| {
            let name = mount.file_name()?.to_string_lossy().into_owned();
            own.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let matches = match &self.layout {
                    Layout::Unified { .. } => controllers.is_empty(),
                    _ => controllers.split(',').any(|c| c == name),
                };
                matches.then(|| {
                    mount
                        .join(path.trim_start_matches('/'))
                        .join("cgroup.procs")
                })
            })
        });
        let Some(target) = target else {
            return WarmAttach::Nothing;
        };
        let keep_writing = move |stop: &dyn Fn() -> bool| {
            let started = std::time::Instant::now();
            while !stop() && started.elapsed() < std::time::Duration::from_secs(1) {
                if fs::write(&target, "0").is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        if crate::process::single_threaded() {
            // SAFETY: this process has one thread, so the child may do
            // anything; it ends with _exit.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    keep_writing(&|| false);
                    // SAFETY: leaving without running the parent's exit code.
                    unsafe { libc::_exit(0) }
                }
                Ok(nix::unistd::ForkResult::Parent { child }) => WarmAttach::Process(child),
                Err(_) => WarmAttach::Nothing,
            }
        } else {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            let _ = std::thread::Builder::new()
                .name("cgroup-warm".into())
                .spawn(move || keep_writing(&|| flag.load(std::sync::atomic::Ordering::Relaxed)));
            WarmAttach::Thread(stop)
        }
    }

    /// The mount points of the hierarchies this cgroup lives in, and the
    /// cgroup's directory in each.
    fn dirs(&self) -> Vec<(&Path, PathBuf)> {
        let rel = self.path.trim_start_matches('/');
        match &self.layout {
            Layout::Unified { root } => vec![(root.as_path(), root.join(rel))],
            Layout::Legacy {
                controllers,
                others,
            }
            | Layout::Hybrid {
                controllers,
                others,
                ..
            } => {
                let mut dirs: Vec<(&Path, PathBuf)> = Vec::new();
                for mount in controllers.values().chain(others) {
                    if !dirs.iter().any(|(m, _)| *m == mount.as_path()) {
                        dirs.push((mount.as_path(), mount.join(rel)));
                    }
                }
                dirs
            }
        }
    }

    /// Where a v1 controller's files for this cgroup are.
    fn v1_dir(&self, controller: Controller) -> Option<PathBuf> {
        match &self.layout {
            Layout::Legacy { controllers, .. } | Layout::Hybrid { controllers, .. } => {
                let path = self.v1_paths.get(&controller).unwrap_or(&self.path);
                controllers
                    .get(&controller)
                    .map(|m| m.join(path.trim_start_matches('/')))
            }
            Layout::Unified { .. } => None,
        }
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        match &self.layout {
            Layout::Unified { root } => Some(root.join(self.path.trim_start_matches('/'))),
            _ => None,
        }
    }

    /// Writes the limits.
    pub fn apply(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        match self.v2_dir() {
            Some(dir) => v2::apply(&dir, limits),
            None => v1::apply(self, limits),
        }
    }

    /// Moves a process (and its threads) into the cgroup.
    pub fn add(&self, pid: u32) -> Result<(), CgroupError> {
        for file in self.procs_files() {
            write(&file, &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in it (in the memory hierarchy on v1).
    pub fn processes(&self) -> Result<Vec<u32>, CgroupError> {
        let dir = match self.v2_dir() {
            Some(dir) => dir,
            None => match self
                .v1_dir(Controller::Memory)
                .or_else(|| self.v1_dir(Controller::Pids))
            {
                Some(dir) => dir,
                None => return Ok(vec![]),
            },
        };
        procs(&dir.join("cgroup.procs"))
    }

    /// What it uses, in the model's (v2) terms.
    pub fn usage(&self) -> Result<CgroupUsage, CgroupError> {
        match self.v2_dir() {
            Some(dir) => v2::usage(&dir),
            None => v1::usage(self),
        }
    }

    /// Kills every process left in it and removes it from every hierarchy.
    /// Removing a cgroup that is already gone is not an error.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        if let Some(dir) = self.v2_dir()
            && dir.join("cgroup.kill").exists()
        {
            write(&dir.join("cgroup.kill"), "1")?;
        } else {
            for pid in self.processes()? {
                kill(pid);
            }
        }
        // Killed processes leave the cgroup once the kernel has reaped
        // their resources; that takes a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.processes()?;
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(CgroupError::Busy {
                    path: PathBuf::from(&self.path),
                    pids: left,
                });
            }
            for pid in left {
                kill(pid);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for (_, dir) in self.dirs() {
            match fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(CgroupError::Io {
                        action: "remove",
                        path: dir,
                        hint: hint(&source),
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and
/// nothing can join it until it has some: it gets its parent's, as runc
/// gives them (elsewhere there are no such files, and nothing to do).
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        if read_optional(&own)?.is_some_and(|v| v.trim().is_empty()) {
            let inherited = read(&parent.join(file))?;
            write(&own, inherited.trim())?;
        }
    }
    Ok(())
}

/// SIGKILL, ignoring a process that is already gone.
fn kill(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests;
