//! Mounts made as descriptors (the kernel's mount API of Linux 5.2 and
//! 5.12): a copy of a tree detached from any path (`open_tree`), shifted
//! to other owners (`mount_setattr` with an id map), attached where a
//! descriptor says (`move_mount`), and an overlay made without a mount
//! point (`fsopen`, `fsconfig`, `fsmount`).
//!
//! With them the supervisor, as host root, builds a container's root and
//! volumes before the container's init exists, and hands them over as
//! descriptors: the init attaches them without looking up one host path
//! (so a data directory under a private parent works), and the image's
//! files, owned on disk by the store's ids, appear owned by the
//! container's own ids (so no container can write another's image).

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

fn c_path(path: &Path) -> nix::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn fd_result(rc: libc::c_long) -> nix::Result<OwnedFd> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        // SAFETY: the kernel just returned this descriptor to us alone.
        Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) })
    }
}

fn unit_result(rc: libc::c_long) -> nix::Result<()> {
    if rc < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// Opens what `path` names without following a symbolic link there (the
/// parents may be links): `ELOOP` if it is one.
pub fn open_no_follow(path: &Path) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let stat = nix::sys::stat::fstat(&fd)?;
    if stat.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(Errno::ELOOP);
    }
    Ok(fd)
}

/// Opens what `path` names with no symbolic link anywhere on the way
/// (`ELOOP` if there is one): a volume's source, checked when the
/// container was made, cannot be swapped for a link into the data
/// directory before it starts.
pub fn open_no_links(path: &Path) -> nix::Result<OwnedFd> {
    let how = nix::fcntl::OpenHow::new()
        .flags(nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC)
        .resolve(
            nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS
                | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
    nix::fcntl::openat2(nix::fcntl::AT_FDCWD, path, how)
}

/// A detached copy of the tree (and everything mounted below it) that
/// `fd` opened, as `mount --rbind` would make, not attached anywhere yet,
/// and without devices: a device node in it opens nothing (as under a
/// mount a user namespace made).
pub fn clone_tree(fd: &OwnedFd) -> nix::Result<OwnedFd> {
    let tree = copy_tree(fd)?;
    set_attr(&tree, libc::MOUNT_ATTR_NODEV, 0)?;
    Ok(tree)
}

fn copy_tree(fd: &OwnedFd) -> nix::Result<OwnedFd> {
    let empty = c"";
    // SAFETY: open_tree reads the path string; the flags ask for a copy.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::OPEN_TREE_CLONE
                | libc::OPEN_TREE_CLOEXEC
                | libc::AT_EMPTY_PATH as libc::c_uint
                | libc::AT_RECURSIVE as libc::c_uint,
        )
    };
    fd_result(rc)
}

/// Shifts the owners a detached tree shows by the id map of the user
/// namespace `userns`: a file owned on disk by id `d` shows as the host id
/// that `d` maps to there.
pub fn set_idmap(tree: &OwnedFd, userns: &OwnedFd) -> nix::Result<()> {
    set_attr(tree, libc::MOUNT_ATTR_IDMAP, userns.as_raw_fd() as u64)
}

/// Sets mount attributes on a tree, every mount in it.
fn set_attr(tree: &OwnedFd, attr_set: u64, userns_fd: u64) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd,
    };
    let empty = c"";
    // SAFETY: mount_setattr reads `attr`, of the size given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    unit_result(rc)
}

/// Attaches a detached tree on the directory `target` opened.
pub fn attach_to(tree: &OwnedFd, target: &OwnedFd) -> nix::Result<()> {
    let empty = c"";
    // SAFETY: move_mount reads the two (empty) path strings.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    unit_result(rc)
}

/// Attaches a detached tree at `path` (looked up by the caller).
pub fn attach_at(tree: &OwnedFd, path: &Path) -> nix::Result<()> {
    let path = c_path(path)?;
    let empty = c"";
    // SAFETY: move_mount reads the two path strings.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    unit_result(rc)
}

/// An overlay of `lower` under `upper` (with `work`), made as a detached
/// mount: it is nowhere until someone attaches it.
pub fn overlay(lower: &Path, upper: &Path, work: &Path) -> nix::Result<OwnedFd> {
    let name = c"overlay";
    // SAFETY: fsopen reads the file system's name.
    let context =
        fd_result(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    // The source is what the mount table shows in its first field:
    // `overlay`, as other runtimes name it (without it, `none`).
    let source = Path::new("overlay");
    for (key, value) in [
        ("source", source),
        ("lowerdir", lower),
        ("upperdir", upper),
        ("workdir", work),
    ] {
        let key = CString::new(key).expect("no NUL in the key");
        let value = c_path(value)?;
        // SAFETY: fsconfig reads the key and value strings.
        unit_result(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                context.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        })?;
    }
    // SAFETY: no pointers.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })?;
    // No devices in a container's root (the runtime makes /dev).
    // SAFETY: no pointers.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            libc::MOUNT_ATTR_NODEV,
        )
    })
}

/// A user namespace whose ids `inner..inner+count` are the host's
/// `outer..outer+count` (uids and gids alike): made by a child that
/// leaves at once, kept by the descriptor. Used only as an id map for
/// [`set_idmap`]. Only raw system calls run in the child, so a process
/// with threads may call this.
pub fn userns_with_map(inner: u32, outer: u32, count: u32) -> nix::Result<OwnedFd> {
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (done_r, done_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (ready_wr, done_rd) = (ready_w.as_raw_fd(), done_r.as_raw_fd());
    let (ready_rd, done_wr) = (ready_r.as_raw_fd(), done_w.as_raw_fd());
    // SAFETY: the child makes raw system calls only and ends in _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(Errno::last());
    }
    if child == 0 {
        // SAFETY: raw calls on descriptors made above; then _exit.
        unsafe {
            libc::close(ready_rd);
            libc::close(done_wr);
            let ok = libc::unshare(libc::CLONE_NEWUSER) == 0;
            let byte = [u8::from(ok)];
            libc::write(ready_wr, byte.as_ptr().cast(), 1);
            let mut buf = [0u8; 1];
            libc::read(done_rd, buf.as_mut_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    drop((ready_w, done_r));
    let result = (|| {
        let mut byte = [0u8; 1];
        if nix::unistd::read(&ready_r, &mut byte)? != 1 || byte[0] != 1 {
            return Err(Errno::EPERM);
        }
        let map = format!("{inner} {outer} {count}\n");
        let proc = format!("/proc/{child}");
        for file in ["uid_map", "gid_map"] {
            fs::write(format!("{proc}/{file}"), &map)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EPERM)))?;
        }
        nix::fcntl::open(
            format!("{proc}/ns/user").as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
    })();
    let _ = nix::unistd::write(&done_w, b"x");
    drop(done_w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
    result
}

/// Whether the file system under `dir` takes id-mapped mounts (ext4,
/// xfs, btrfs; tmpfs from Linux 6.3...): tried on a copy of `dir` that is
/// never attached.
pub fn idmap_works(dir: &Path) -> bool {
    (|| -> nix::Result<()> {
        let userns = userns_with_map(0, 1 << 30, 1)?;
        let tree = copy_tree(&open_no_follow(dir)?)?;
        set_idmap(&tree, &userns)
    })()
    .is_ok()
}
