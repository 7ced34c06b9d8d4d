//! What a container's init does between `clone` and `execve`: the root
//! file system (an overlay of the image under the container's writable
//! layer), `/proc`, a minimal `/dev`, a read-only `/sys`, volumes,
//! `pivot_root`, the hostname, the loopback interface, then capabilities
//! cut to Docker's default set, `no_new_privs`, every inherited descriptor
//! marked close-on-exec, and the command.
//!
//! It runs in the new namespaces (user, pid, mount, uts, ipc, net, and
//! cgroup once the supervisor has put it in its cgroup), through the
//! [`Kernel`] seam.
//!
//! As root, the supervisor first [`prepare`]s what needs the host's
//! view and rights: the overlay root (over the image shifted to the
//! container's ids) and the volumes, as detached mounts. The init then
//! attaches them by descriptor, never looking up a host path, so nothing
//! on the way to the data directory must be open to the container's ids.
//! Without root the init mounts its overlay itself, from paths the user
//! owns.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use super::kernel::{DEFAULT_CAPABILITIES, Kernel};
use super::seccomp::Installable;

/// The compiled filters for a container's choice of profile.
pub fn filters_for(
    seccomp: anchorage_shared::container::Seccomp,
) -> Result<Vec<Installable>, String> {
    match seccomp {
        anchorage_shared::container::Seccomp::Unconfined => Ok(Vec::new()),
        anchorage_shared::container::Seccomp::Default => Ok(super::seccomp::default_profile()?
            .into_iter()
            .map(Installable::new)
            .collect()),
    }
}

/// A bind mount from the host into the container.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    /// An absolute path inside the container.
    pub target: String,
    /// A named volume, owned on disk by the store's ids: mounted shifted
    /// to the container's (when the container has ids of its own).
    #[serde(default)]
    pub shift: bool,
}

/// Everything the init needs to know.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// The image's unpacked root: the overlay's read-only layer.
    pub lower: PathBuf,
    /// The container's writable layer and overlay's work directory.
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the overlay is mounted: the container's root.
    pub merged: PathBuf,
    pub hostname: String,
    pub volumes: Vec<Bind>,
    pub argv: Vec<String>,
    /// `KEY=value` pairs, `PATH` among them.
    pub env: Vec<String>,
    /// The working directory inside the container.
    pub cwd: String,
    /// Where the supervisor attaches the image's root, shifted, for the
    /// overlay to stand on (in its own mount namespace).
    #[serde(default)]
    pub lower_mount: PathBuf,
    /// The system calls the container may make.
    #[serde(default)]
    pub seccomp: anchorage_shared::container::Seccomp,
    /// What its `/sys/fs/cgroup` holds on a v1 or hybrid host (empty:
    /// cgroup2 there, as on a v2 host).
    #[serde(default)]
    pub cgroupfs: Vec<crate::cgroup::CgroupMount>,
}

/// Ids to shift the image's files (and named volumes) by: on disk they
/// belong to `from..from+count`, the container sees them as its own
/// `to..to+count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    pub from: u32,
    pub to: u32,
    pub count: u32,
}

/// What the supervisor made for the init, as host root, before it ran:
/// the container's root and each volume (in the plan's order, with
/// whether it is a directory), as detached mounts.
pub struct Prepared {
    pub root: OwnedFd,
    pub volumes: Vec<(OwnedFd, bool)>,
}

/// The supervisor's part, as host root, in a mount namespace of its own
/// (made here, so nothing it mounts is seen by the host or outlives the
/// container): the image's root shifted by `shift` (attached at
/// `lower_mount`, for the overlay to name), the overlay over it as a
/// detached mount, and a detached copy of each volume's source, opened
/// without following a symbolic link at its end. Named volumes are
/// shifted too.
pub fn prepare(
    k: &mut impl Kernel,
    plan: &Plan,
    shift: Option<Shift>,
) -> Result<Prepared, SetupError> {
    k.unshare(CloneFlags::CLONE_NEWNS)
        .map_err(fail("make the supervisor's mount namespace"))?;
    // Slave: nothing mounted here reaches the host, and what the host
    // unmounts goes from here too (a disk is not held busy by a container).
    k.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None,
    )
    .map_err(fail("make the supervisor's mounts slaves of the host's"))?;
    let userns = match shift {
        Some(Shift { from, to, count }) => Some(
            k.userns(from, to, count)
                .map_err(fail(format!("make an id map from {from} to {to}")))?,
        ),
        None => None,
    };
    let lower = match &userns {
        Some(userns) => {
            let step = || format!("shift the image's root {}", plan.lower.display());
            let (fd, _) = k.open_no_follow(&plan.lower).map_err(fail(step()))?;
            let tree = k.clone_tree(&fd).map_err(fail(step()))?;
            k.set_idmap(&tree, userns).map_err(fail(step()))?;
            k.attach_at(&tree, &plan.lower_mount)
                .map_err(fail(step()))?;
            plan.lower_mount.clone()
        }
        None => plan.lower.clone(),
    };
    let root = k
        .overlay(&lower, &plan.upper, &plan.work)
        .map_err(fail(format!(
            "make the overlay root (lowerdir={},upperdir={},workdir={})",
            lower.display(),
            plan.upper.display(),
            plan.work.display()
        )))?;
    let mut volumes = Vec::new();
    for volume in &plan.volumes {
        let source = volume.source.display();
        let (fd, is_dir) = k.open_source(&volume.source).map_err(|errno| {
            if errno == Errno::ELOOP {
                SetupError {
                    step: format!("the volume's host path {source}"),
                    reason: "a symbolic link is on its way now (it was not when the container was made): give the path it points to".into(),
                    status: 125,
                }
            } else {
                fail(format!("open the volume's host path {source}"))(errno)
            }
        })?;
        let tree = k
            .clone_tree(&fd)
            .map_err(fail(format!("copy the volume {source}")))?;
        if volume.shift
            && let Some(userns) = &userns
        {
            k.set_idmap(&tree, userns)
                .map_err(fail(format!("shift the volume {source}")))?;
        }
        volumes.push((tree, is_dir));
    }
    Ok(Prepared { root, volumes })
}

/// A step that failed, with the kernel's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError {
    pub step: String,
    pub reason: String,
    /// The exit status a runtime reports for it: 127 for a command not
    /// found, 126 for one that cannot run, 125 for the runtime's own
    /// failures.
    pub status: i32,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.reason)
    }
}

fn fail(step: impl Into<String>) -> impl FnOnce(Errno) -> SetupError {
    let step = step.into();
    move |errno| SetupError {
        step,
        reason: errno.desc().to_string(),
        status: 125,
    }
}

/// Paths Docker hides from containers: files get `/dev/null` on top,
/// directories an empty read-only tmpfs.
const MASKED: &[&str] = &[
    "proc/acpi",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
];

/// Paths Docker makes read-only.
const READ_ONLY: &[&str] = &[
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

/// Host devices bound into the container's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Where a command runs from: `argv[0]` if it has a `/`, else the first
/// executable of that name along the container's `PATH`, looked up in the
/// container's root (`root`, before or after `pivot_root`).
pub fn find_command(root: &Path, argv0: &str, env: &[String]) -> Result<String, SetupError> {
    let not_found = |what: String| SetupError {
        step: format!("exec: \"{argv0}\""),
        reason: what,
        status: 127,
    };
    if argv0.is_empty() {
        return Err(not_found("an empty command".into()));
    }
    if argv0.contains('/') {
        let on_disk = if argv0.starts_with('/') {
            root.join(argv0.trim_start_matches('/'))
        } else {
            PathBuf::from(argv0)
        };
        if argv0.starts_with('/') && on_disk.symlink_metadata().is_err() {
            return Err(not_found("No such file or directory".into()));
        }
        return Ok(argv0.to_string());
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| d.starts_with('/')) {
        let candidate = format!("{}/{argv0}", dir.trim_end_matches('/'));
        let on_disk = root.join(candidate.trim_start_matches('/'));
        if on_disk.metadata().is_ok_and(|m| !m.is_dir()) {
            return Ok(candidate);
        }
    }
    Err(not_found("executable file not found in $PATH".into()))
}

/// Sets the container up, from inside its namespaces, and returns the
/// program to exec. The caller execs it with [`exec`].
///
/// `in_cgroup` returns once the supervisor has put this process in its
/// cgroup (which it does while the root is being built): the cgroup
/// namespace is made after that, rooted there.
pub fn setup(
    k: &mut impl Kernel,
    plan: &Plan,
    prepared: Option<&Prepared>,
    filters: &[Installable],
    in_cgroup: impl FnOnce() -> bool,
) -> Result<String, SetupError> {
    // The root being built: the prepared one, attached and entered (every
    // path below is then relative to it), or the overlay mounted here.
    let root = if prepared.is_some() {
        Path::new(".")
    } else {
        plan.merged.as_path()
    };
    let at = |path: &str| root.join(path);

    // Nothing mounted here propagates back to the host.
    k.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
    .map_err(fail("make the mounts private"))?;
    k.sethostname(&plan.hostname)
        .map_err(fail(format!("set the hostname to {}", plan.hostname)))?;

    match prepared {
        Some(prepared) => k
            .enter_root(&prepared.root)
            .map_err(fail("attach the container's root"))?,
        None => {
            let overlay = format!(
                "lowerdir={},upperdir={},workdir={},userxattr",
                plan.lower.display(),
                plan.upper.display(),
                plan.work.display()
            );
            k.mount(
                Some("overlay"),
                root,
                Some("overlay"),
                MsFlags::empty(),
                Some(&overlay),
            )
            .map_err(fail(format!("mount the overlay root ({overlay})")))?;
        }
    }

    // /proc for the new pid namespace.
    k.make_dir_in(root, "proc").map_err(fail("make /proc"))?;
    k.mount(
        Some("proc"),
        &at("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
    .map_err(fail("mount /proc"))?;

    // A minimal /dev: a tmpfs with the host's harmless devices bound in.
    k.make_dir_in(root, "dev").map_err(fail("make /dev"))?;
    k.mount(
        Some("tmpfs"),
        &at("dev"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .map_err(fail("mount /dev"))?;
    for device in DEVICES {
        let target = k
            .make_file_in(root, &format!("dev/{device}"))
            .map_err(fail(format!("make /dev/{device}")))?;
        k.mount(
            Some(&format!("/dev/{device}")),
            &fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
        )
        .map_err(fail(format!("bind /dev/{device}")))?;
    }
    k.make_dir_in(root, "dev/pts")
        .map_err(fail("make /dev/pts"))?;
    k.mount(
        Some("devpts"),
        &at("dev/pts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(fail("mount /dev/pts"))?;
    k.make_dir_in(root, "dev/shm")
        .map_err(fail("make /dev/shm"))?;
    k.mount(
        Some("shm"),
        &at("dev/shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(fail("mount /dev/shm"))?;
    for (link, target) in [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
        ("dev/ptmx", "pts/ptmx"),
    ] {
        k.symlink(target, &at(link))
            .map_err(fail(format!("link /{link}")))?;
    }

    // A read-only /sys for the new network namespace.
    k.make_dir_in(root, "sys").map_err(fail("make /sys"))?;
    let sys_flags =
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if let Err(errno) = k.mount(Some("sysfs"), &at("sys"), Some("sysfs"), sys_flags, None) {
        // Not allowed here (a user namespace that does not own the
        // network namespace): the host's, bound and made read-only.
        k.mount(
            Some("/sys"),
            &at("sys"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|_| fail("mount /sys")(errno))?;
        k.mount(
            None,
            &at("sys"),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | sys_flags,
            None,
        )
        .map_err(fail("make /sys read-only"))?;
    }

    for (index, volume) in plan.volumes.iter().enumerate() {
        let source = volume.source.to_string_lossy();
        let (tree, is_dir) = match prepared {
            Some(prepared) => (None, prepared.volumes[index].1),
            None => {
                // Opened here, in this mount namespace, without following
                // a symbolic link at its end.
                let (fd, is_dir) = k
                    .open_source(&volume.source)
                    .map_err(fail(format!("open the volume's host path {source}")))?;
                (Some(fd), is_dir)
            }
        };
        let made = if is_dir {
            k.make_dir_in(root, &volume.target)
        } else {
            k.make_file_in(root, &volume.target)
        };
        let target = made.map_err(fail(format!(
            "make the volume's mount point {}",
            volume.target
        )))?;
        match (prepared, tree) {
            (Some(prepared), _) => k.attach_to(&prepared.volumes[index].0, &target),
            (None, Some(source_fd)) => k.mount(
                Some(&fd_path(&source_fd).to_string_lossy()),
                &fd_path(&target),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            ),
            (None, None) => unreachable!("a volume is opened or prepared"),
        }
        .map_err(fail(format!("bind {source} to {}", volume.target)))?;
    }

    for path in MASKED {
        let target = at(path);
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.is_dir() => k
                .mount(
                    Some("tmpfs"),
                    &target,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                )
                .map_err(fail(format!("mask /{path}")))?,
            Ok(_) => k
                .mount(Some("/dev/null"), &target, None, MsFlags::MS_BIND, None)
                .map_err(fail(format!("mask /{path}")))?,
            Err(_) => {}
        }
    }
    for path in READ_ONLY {
        let target = at(path);
        if std::fs::symlink_metadata(&target).is_ok() {
            k.mount(
                Some(&target.to_string_lossy()),
                &target,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(fail(format!("bind /{path}")))?;
            k.mount(
                None,
                &target,
                None,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_REC,
                None,
            )
            .map_err(fail(format!("make /{path} read-only")))?;
        }
    }

    // The new root: the old one is stacked under it, then detached.
    if prepared.is_none() {
        k.chdir(root).map_err(fail("enter the root"))?;
    }
    k.pivot_root(Path::new("."), Path::new("."))
        .map_err(fail("pivot_root"))?;
    k.umount(Path::new("."), MntFlags::MNT_DETACH)
        .map_err(fail("detach the host's root"))?;
    k.chdir(Path::new("/"))
        .map_err(fail("enter the new root"))?;

    k.loopback_up().map_err(fail("bring up lo"))?;

    // A cgroup namespace rooted at the cgroup the supervisor put us in,
    // and its view of that cgroup (where the host has a cgroup2 hierarchy
    // to show).
    if !in_cgroup() {
        return Err(SetupError {
            step: "join the container's cgroup".into(),
            reason: "the supervisor went away".into(),
            status: 125,
        });
    }
    k.unshare(CloneFlags::CLONE_NEWCGROUP)
        .map_err(fail("make the cgroup namespace"))?;
    mount_cgroupfs(k, &plan.cgroupfs, sys_flags);

    let cwd = if plan.cwd.is_empty() { "/" } else { &plan.cwd };
    k.chdir(Path::new(cwd)).map_err(|errno| SetupError {
        step: format!("chdir to the working directory {cwd}"),
        reason: errno.desc().to_string(),
        status: 125,
    })?;
    let program = find_command(Path::new("/"), &plan.argv[0], &plan.env)?;

    k.no_new_privs().map_err(fail("set no_new_privs"))?;
    k.keep_capabilities(DEFAULT_CAPABILITIES)
        .map_err(|reason| SetupError {
            step: "drop capabilities".into(),
            reason,
            status: 125,
        })?;
    // Last but one: the system call filter, once nothing else is to be
    // set up (it forbids what the setup needed, such as mount).
    k.seccomp(filters)
        .map_err(fail("install the seccomp filter"))?;
    // Nothing of the host's stays open across exec (CVE-2024-21626).
    k.close_from(3)
        .map_err(fail("close inherited descriptors"))?;
    Ok(program)
}

/// The container's `/sys/fs/cgroup`, read-only, in its cgroup namespace:
/// cgroup2 on a v2 host; on a v1 or hybrid host a tmpfs holding each of
/// the host's hierarchies (and its links between their names), as Docker
/// lays it out. A hierarchy the kernel will not mount here is left out:
/// the container runs without it, as it would without `/sys/fs/cgroup`.
fn mount_cgroupfs(k: &mut impl Kernel, view: &[crate::cgroup::CgroupMount], flags: MsFlags) {
    use crate::cgroup::CgroupMount;
    let base = Path::new("/sys/fs/cgroup");
    if view.is_empty() {
        let _ = k.mount(Some("cgroup2"), base, Some("cgroup2"), flags, None);
        return;
    }
    let writable = flags & !MsFlags::MS_RDONLY;
    if k.mount(
        Some("tmpfs"),
        base,
        Some("tmpfs"),
        writable,
        Some("mode=755,size=64k"),
    )
    .is_err()
    {
        return;
    }
    for mount in view {
        match mount {
            CgroupMount::V1 { name, options } => {
                if k.make_dir_in(base, name).is_ok() {
                    let _ = k.mount(
                        Some("cgroup"),
                        &base.join(name),
                        Some("cgroup"),
                        flags,
                        Some(options),
                    );
                }
            }
            CgroupMount::V2 { name } => {
                if k.make_dir_in(base, name).is_ok() {
                    let _ = k.mount(
                        Some("cgroup2"),
                        &base.join(name),
                        Some("cgroup2"),
                        flags,
                        None,
                    );
                }
            }
            CgroupMount::Link { name, target } => {
                let _ = k.symlink(target, &base.join(name));
            }
        }
    }
    let _ = k.mount(
        None,
        base,
        None,
        MsFlags::MS_REMOUNT | flags,
        Some("mode=755,size=64k"),
    );
}

/// Execs the command; returns why it could not.
pub fn exec(k: &mut impl Kernel, program: &str, plan: &Plan) -> SetupError {
    let errno = k.exec(program, &plan.argv, &plan.env);
    SetupError {
        step: format!("exec: \"{}\"", plan.argv[0]),
        reason: errno.desc().to_string(),
        status: if errno == Errno::ENOENT { 127 } else { 126 },
    }
}

/// A descriptor's path, to mount on exactly what it opened.
fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests;
