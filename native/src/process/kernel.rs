//! The seam between the runtime's logic and the kernel.
//!
//! A container's init sets itself up (mounts, `pivot_root`, hostname,
//! capabilities...) through [`Kernel`]. [`Linux`] makes the real system
//! calls; the unit tests give [`launch`](super::launch) a recording kernel
//! instead and check the order and the arguments of every call without
//! root. The real calls are tested as root in `tests/tests/containers.rs`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use crate::namespace::mounts;

/// The capabilities a container keeps: Docker's default set.
pub const DEFAULT_CAPABILITIES: &[caps::Capability] = &[
    caps::Capability::CAP_CHOWN,
    caps::Capability::CAP_DAC_OVERRIDE,
    caps::Capability::CAP_FSETID,
    caps::Capability::CAP_FOWNER,
    caps::Capability::CAP_MKNOD,
    caps::Capability::CAP_NET_RAW,
    caps::Capability::CAP_SETGID,
    caps::Capability::CAP_SETUID,
    caps::Capability::CAP_SETFCAP,
    caps::Capability::CAP_SETPCAP,
    caps::Capability::CAP_NET_BIND_SERVICE,
    caps::Capability::CAP_SYS_CHROOT,
    caps::Capability::CAP_KILL,
    caps::Capability::CAP_AUDIT_WRITE,
];

/// The system calls a container's init makes to set itself up.
pub trait Kernel {
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount(&mut self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&mut self, path: &Path) -> nix::Result<()>;
    fn sethostname(&mut self, name: &str) -> nix::Result<()>;
    fn unshare(&mut self, flags: CloneFlags) -> nix::Result<()>;
    /// Makes a directory (and its parents) inside `root`, every component
    /// resolved within it, and returns it opened, so what is mounted on it
    /// is where the container sees it even if the image holds symlinks.
    fn make_dir_in(&mut self, root: &Path, path: &str) -> nix::Result<OwnedFd>;
    /// Makes an empty file inside `root` (a mount point for a device).
    fn make_file_in(&mut self, root: &Path, path: &str) -> nix::Result<OwnedFd>;
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()>;
    /// Brings the loopback interface up in the current network namespace.
    fn loopback_up(&mut self) -> nix::Result<()>;
    /// Keeps only these capabilities, in every set.
    fn keep_capabilities(&mut self, keep: &[caps::Capability]) -> Result<(), String>;
    fn no_new_privs(&mut self) -> nix::Result<()>;
    /// Installs seccomp filters (after `no_new_privs`).
    fn seccomp(&mut self, filters: &[super::seccomp::Installable]) -> nix::Result<()>;
    /// Marks every descriptor from `first` up close-on-exec, so none of
    /// the host's survives the exec (and a pipe to report a failed exec
    /// still can).
    fn close_from(&mut self, first: u32) -> nix::Result<()>;
    /// Replaces the process; returns only on failure.
    fn exec(&mut self, path: &str, argv: &[String], env: &[String]) -> nix::Error;

    // The mount API, by descriptor (see `namespace::mounts`).

    /// Opens a path without following a symbolic link at its end (`ELOOP`
    /// if it is one); whether it is a directory.
    fn open_no_follow(&mut self, path: &Path) -> nix::Result<(OwnedFd, bool)>;
    /// Opens a volume's source with no symbolic link anywhere on its path
    /// (`ELOOP` if there is one); whether it is a directory.
    fn open_source(&mut self, path: &Path) -> nix::Result<(OwnedFd, bool)>;
    /// A detached copy of the tree `fd` opened (`mount --rbind`).
    fn clone_tree(&mut self, fd: &OwnedFd) -> nix::Result<OwnedFd>;
    /// A user namespace mapping `inner..` to the host's `outer..`, as an
    /// id map for [`Kernel::set_idmap`].
    fn userns(&mut self, inner: u32, outer: u32, count: u32) -> nix::Result<OwnedFd>;
    /// Shifts the owners a detached tree shows by a user namespace's map.
    fn set_idmap(&mut self, tree: &OwnedFd, userns: &OwnedFd) -> nix::Result<()>;
    /// Attaches a detached tree at a path.
    fn attach_at(&mut self, tree: &OwnedFd, path: &Path) -> nix::Result<()>;
    /// Attaches a detached tree on an opened directory (or file).
    fn attach_to(&mut self, tree: &OwnedFd, target: &OwnedFd) -> nix::Result<()>;
    /// An overlay, as a detached mount.
    fn overlay(&mut self, lower: &Path, upper: &Path, work: &Path) -> nix::Result<OwnedFd>;
    /// Makes a detached tree this process's working directory and attaches
    /// it over `/` (to become the root at `pivot_root`).
    fn enter_root(&mut self, root: &OwnedFd) -> nix::Result<()>;
}

/// The real kernel.
pub struct Linux;

fn c(text: &str) -> nix::Result<CString> {
    CString::new(text).map_err(|_| nix::errno::Errno::EINVAL)
}

/// Opens (or makes) every component of `path` under `root` with
/// `RESOLVE_IN_ROOT`, so symlinks resolve as inside the container.
fn walk_in(root: &Path, path: &str, last_is_file: bool) -> nix::Result<OwnedFd> {
    let mut dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut so_far = String::new();
    for (i, part) in parts.iter().enumerate() {
        if *part == ".." {
            return Err(nix::errno::Errno::EINVAL);
        }
        so_far.push('/');
        so_far.push_str(part);
        let last = i + 1 == parts.len();
        if last && last_is_file {
            match nix::fcntl::openat(
                &dir,
                *part,
                OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            ) {
                Ok(_) | Err(nix::errno::Errno::EEXIST) => {}
                Err(err) => return Err(err),
            }
        } else {
            match nix::sys::stat::mkdirat(&dir, *part, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(err) => return Err(err),
            }
        }
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        dir = nix::fcntl::openat2(&root_fd, so_far.as_str(), how)?;
    }
    Ok(dir)
}

impl Kernel for Linux {
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount(&mut self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&mut self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn sethostname(&mut self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    fn unshare(&mut self, flags: CloneFlags) -> nix::Result<()> {
        nix::sched::unshare(flags)
    }

    fn make_dir_in(&mut self, root: &Path, path: &str) -> nix::Result<OwnedFd> {
        walk_in(root, path, false)
    }

    fn make_file_in(&mut self, root: &Path, path: &str) -> nix::Result<OwnedFd> {
        walk_in(root, path, true)
    }

    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()> {
        match nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, link) {
            Err(nix::errno::Errno::EEXIST) => Ok(()),
            other => other,
        }
    }

    fn loopback_up(&mut self) -> nix::Result<()> {
        let socket = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Datagram,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        // SAFETY: ifreq is plain data; the ioctls read and write only it.
        unsafe {
            let mut request: libc::ifreq = std::mem::zeroed();
            for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
                *slot = *byte as libc::c_char;
            }
            if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
                return Err(nix::errno::Errno::last());
            }
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
                return Err(nix::errno::Errno::last());
            }
        }
        Ok(())
    }

    fn keep_capabilities(&mut self, keep: &[caps::Capability]) -> Result<(), String> {
        let keep: caps::CapsHashSet = keep.iter().copied().collect();
        for cap in caps::all() {
            if !keep.contains(&cap) {
                caps::drop(None, caps::CapSet::Bounding, cap)
                    .map_err(|e| format!("drop {cap} from the bounding set: {e}"))?;
            }
        }
        caps::clear(None, caps::CapSet::Ambient).map_err(|e| format!("clear ambient: {e}"))?;
        for set in [
            caps::CapSet::Inheritable,
            caps::CapSet::Effective,
            caps::CapSet::Permitted,
        ] {
            caps::set(None, set, &keep).map_err(|e| format!("set {set:?}: {e}"))?;
        }
        Ok(())
    }

    fn no_new_privs(&mut self) -> nix::Result<()> {
        nix::sys::prctl::set_no_new_privs()
    }

    fn seccomp(&mut self, filters: &[super::seccomp::Installable]) -> nix::Result<()> {
        super::seccomp::install(filters)
    }

    fn close_from(&mut self, first: u32) -> nix::Result<()> {
        // SAFETY: closing descriptors the process no longer uses; called
        // just before exec, with nothing else running.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if rc < 0 {
            return Err(nix::errno::Errno::last());
        }
        Ok(())
    }

    fn exec(&mut self, path: &str, argv: &[String], env: &[String]) -> nix::Error {
        let (Ok(path), Ok(argv), Ok(env)) = (
            c(path),
            argv.iter().map(|a| c(a)).collect::<nix::Result<Vec<_>>>(),
            env.iter().map(|e| c(e)).collect::<nix::Result<Vec<_>>>(),
        ) else {
            return nix::errno::Errno::EINVAL;
        };
        match nix::unistd::execve(&path, &argv, &env) {
            Err(err) => err,
            Ok(never) => match never {},
        }
    }

    fn open_no_follow(&mut self, path: &Path) -> nix::Result<(OwnedFd, bool)> {
        let fd = mounts::open_no_follow(path)?;
        let is_dir = nix::sys::stat::fstat(&fd)?.st_mode & libc::S_IFMT == libc::S_IFDIR;
        Ok((fd, is_dir))
    }

    fn open_source(&mut self, path: &Path) -> nix::Result<(OwnedFd, bool)> {
        let fd = mounts::open_no_links(path)?;
        let is_dir = nix::sys::stat::fstat(&fd)?.st_mode & libc::S_IFMT == libc::S_IFDIR;
        Ok((fd, is_dir))
    }

    fn clone_tree(&mut self, fd: &OwnedFd) -> nix::Result<OwnedFd> {
        mounts::clone_tree(fd)
    }

    fn userns(&mut self, inner: u32, outer: u32, count: u32) -> nix::Result<OwnedFd> {
        mounts::userns_with_map(inner, outer, count)
    }

    fn set_idmap(&mut self, tree: &OwnedFd, userns: &OwnedFd) -> nix::Result<()> {
        mounts::set_idmap(tree, userns)
    }

    fn attach_at(&mut self, tree: &OwnedFd, path: &Path) -> nix::Result<()> {
        mounts::attach_at(tree, path)
    }

    fn attach_to(&mut self, tree: &OwnedFd, target: &OwnedFd) -> nix::Result<()> {
        mounts::attach_to(tree, target)
    }

    fn overlay(&mut self, lower: &Path, upper: &Path, work: &Path) -> nix::Result<OwnedFd> {
        mounts::overlay(lower, upper, work)
    }

    fn enter_root(&mut self, root: &OwnedFd) -> nix::Result<()> {
        nix::unistd::fchdir(root)?;
        mounts::attach_at(root, Path::new("/"))
    }
}
