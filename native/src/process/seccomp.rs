//! Docker's default seccomp profile: the system calls a container may
//! make, with the arguments some may take.
//!
//! The profile is an allow-list: anything not on it fails with `EPERM`.
//! For the capabilities a container keeps (Docker's default set), that is
//! Docker's list plus `ptrace` and `process_vm_*` (allowed from Linux 4.8
//! on), `chroot` (it keeps `CAP_SYS_CHROOT`), `arch_prctl` and `modify_ldt`;
//! with arguments checked: `clone` only without a namespace flag (no new
//! namespaces: `unshare`, `setns` and `mount` are off the list too),
//! `socket` of any family but `AF_VSOCK`, and `personality` only for the
//! personas Docker allows. `clone3` fails with `ENOSYS`, so C libraries
//! fall back to `clone`, whose flags can be checked. The keyring calls
//! (`keyctl`, `add_key`, `request_key`), `bpf`, `perf_event_open`, module
//! loading, `reboot`, `swapon` and the rest are not on it.
//!
//! One difference from Docker's: its profile also allows the x86 (i386)
//! and x32 system call tables on x86_64, and this one, built by
//! [`seccompiler`] for x86_64 alone, kills a process that makes a 32-bit
//! system call. 64-bit images (nearly all of them) are unaffected.
//!
//! [`seccompiler`] compiles it to BPF once, before any fork; installing it
//! ([`install`]) is one raw system call, so a child of a process with
//! threads may do it between `fork` and `execve`.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// The system calls allowed whatever their arguments (x86_64 numbers).
#[cfg(target_arch = "x86_64")]
const ALLOWED: &[libc::c_long] = {
    use libc::*;
    &[
        SYS_accept,
        SYS_accept4,
        SYS_access,
        SYS_adjtimex,
        SYS_alarm,
        SYS_bind,
        SYS_brk,
        SYS_capget,
        SYS_capset,
        SYS_chdir,
        SYS_chmod,
        SYS_chown,
        SYS_clock_adjtime,
        SYS_clock_getres,
        SYS_clock_gettime,
        SYS_clock_nanosleep,
        SYS_close,
        SYS_close_range,
        SYS_connect,
        SYS_copy_file_range,
        SYS_creat,
        SYS_dup,
        SYS_dup2,
        SYS_dup3,
        SYS_epoll_create,
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_ctl_old,
        SYS_epoll_pwait,
        SYS_epoll_pwait2,
        SYS_epoll_wait,
        SYS_epoll_wait_old,
        SYS_eventfd,
        SYS_eventfd2,
        SYS_execve,
        SYS_execveat,
        SYS_exit,
        SYS_exit_group,
        SYS_faccessat,
        SYS_faccessat2,
        SYS_fadvise64,
        SYS_fallocate,
        SYS_fanotify_mark,
        SYS_fchdir,
        SYS_fchmod,
        SYS_fchmodat,
        SYS_fchown,
        SYS_fchownat,
        SYS_fcntl,
        SYS_fdatasync,
        SYS_fgetxattr,
        SYS_flistxattr,
        SYS_flock,
        SYS_fork,
        SYS_fremovexattr,
        SYS_fsetxattr,
        SYS_fstat,
        SYS_fstatfs,
        SYS_fsync,
        SYS_ftruncate,
        SYS_futex,
        SYS_futex_waitv,
        SYS_futimesat,
        SYS_getcpu,
        SYS_getcwd,
        SYS_getdents,
        SYS_getdents64,
        SYS_getegid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getgroups,
        SYS_getitimer,
        SYS_getpeername,
        SYS_getpgid,
        SYS_getpgrp,
        SYS_getpid,
        SYS_getppid,
        SYS_getpriority,
        SYS_getrandom,
        SYS_getresgid,
        SYS_getresuid,
        SYS_getrlimit,
        SYS_get_robust_list,
        SYS_getrusage,
        SYS_getsid,
        SYS_getsockname,
        SYS_getsockopt,
        SYS_get_thread_area,
        SYS_gettid,
        SYS_gettimeofday,
        SYS_getuid,
        SYS_getxattr,
        SYS_inotify_add_watch,
        SYS_inotify_init,
        SYS_inotify_init1,
        SYS_inotify_rm_watch,
        SYS_io_cancel,
        SYS_ioctl,
        SYS_io_destroy,
        SYS_io_getevents,
        SYS_ioprio_get,
        SYS_ioprio_set,
        SYS_io_setup,
        SYS_io_submit,
        SYS_io_uring_enter,
        SYS_io_uring_register,
        SYS_io_uring_setup,
        SYS_kill,
        SYS_landlock_add_rule,
        SYS_landlock_create_ruleset,
        SYS_landlock_restrict_self,
        SYS_lchown,
        SYS_lgetxattr,
        SYS_link,
        SYS_linkat,
        SYS_listen,
        SYS_listxattr,
        SYS_llistxattr,
        SYS_lremovexattr,
        SYS_lseek,
        SYS_lsetxattr,
        SYS_lstat,
        SYS_madvise,
        SYS_membarrier,
        SYS_memfd_create,
        SYS_memfd_secret,
        SYS_mincore,
        SYS_mkdir,
        SYS_mkdirat,
        SYS_mknod,
        SYS_mknodat,
        SYS_mlock,
        SYS_mlock2,
        SYS_mlockall,
        SYS_mmap,
        SYS_mprotect,
        SYS_mq_getsetattr,
        SYS_mq_notify,
        SYS_mq_open,
        SYS_mq_timedreceive,
        SYS_mq_timedsend,
        SYS_mq_unlink,
        SYS_mremap,
        SYS_msgctl,
        SYS_msgget,
        SYS_msgrcv,
        SYS_msgsnd,
        SYS_msync,
        SYS_munlock,
        SYS_munlockall,
        SYS_munmap,
        SYS_name_to_handle_at,
        SYS_nanosleep,
        SYS_newfstatat,
        SYS_open,
        SYS_openat,
        SYS_openat2,
        SYS_pause,
        SYS_pidfd_open,
        SYS_pidfd_send_signal,
        SYS_pipe,
        SYS_pipe2,
        SYS_pkey_alloc,
        SYS_pkey_free,
        SYS_pkey_mprotect,
        SYS_poll,
        SYS_ppoll,
        SYS_prctl,
        SYS_pread64,
        SYS_preadv,
        SYS_preadv2,
        SYS_prlimit64,
        SYS_process_mrelease,
        SYS_pselect6,
        SYS_pwrite64,
        SYS_pwritev,
        SYS_pwritev2,
        SYS_read,
        SYS_readahead,
        SYS_readlink,
        SYS_readlinkat,
        SYS_readv,
        SYS_recvfrom,
        SYS_recvmmsg,
        SYS_recvmsg,
        SYS_remap_file_pages,
        SYS_removexattr,
        SYS_rename,
        SYS_renameat,
        SYS_renameat2,
        SYS_restart_syscall,
        SYS_rmdir,
        SYS_rseq,
        SYS_rt_sigaction,
        SYS_rt_sigpending,
        SYS_rt_sigprocmask,
        SYS_rt_sigqueueinfo,
        SYS_rt_sigreturn,
        SYS_rt_sigsuspend,
        SYS_rt_sigtimedwait,
        SYS_rt_tgsigqueueinfo,
        SYS_sched_getaffinity,
        SYS_sched_getattr,
        SYS_sched_getparam,
        SYS_sched_get_priority_max,
        SYS_sched_get_priority_min,
        SYS_sched_getscheduler,
        SYS_sched_rr_get_interval,
        SYS_sched_setaffinity,
        SYS_sched_setattr,
        SYS_sched_setparam,
        SYS_sched_setscheduler,
        SYS_sched_yield,
        SYS_seccomp,
        SYS_select,
        SYS_semctl,
        SYS_semget,
        SYS_semop,
        SYS_semtimedop,
        SYS_sendfile,
        SYS_sendmmsg,
        SYS_sendmsg,
        SYS_sendto,
        SYS_setfsgid,
        SYS_setfsuid,
        SYS_setgid,
        SYS_setgroups,
        SYS_setitimer,
        SYS_setpgid,
        SYS_setpriority,
        SYS_setregid,
        SYS_setresgid,
        SYS_setresuid,
        SYS_setreuid,
        SYS_setrlimit,
        SYS_set_robust_list,
        SYS_setsid,
        SYS_setsockopt,
        SYS_set_thread_area,
        SYS_set_tid_address,
        SYS_setuid,
        SYS_setxattr,
        SYS_shmat,
        SYS_shmctl,
        SYS_shmdt,
        SYS_shmget,
        SYS_shutdown,
        SYS_sigaltstack,
        SYS_signalfd,
        SYS_signalfd4,
        SYS_socketpair,
        SYS_splice,
        SYS_stat,
        SYS_statfs,
        SYS_statx,
        SYS_symlink,
        SYS_symlinkat,
        SYS_sync,
        SYS_sync_file_range,
        SYS_syncfs,
        SYS_sysinfo,
        SYS_tee,
        SYS_tgkill,
        SYS_time,
        SYS_timer_create,
        SYS_timer_delete,
        SYS_timer_getoverrun,
        SYS_timer_gettime,
        SYS_timer_settime,
        SYS_timerfd_create,
        SYS_timerfd_gettime,
        SYS_timerfd_settime,
        SYS_times,
        SYS_tkill,
        SYS_truncate,
        SYS_umask,
        SYS_uname,
        SYS_unlink,
        SYS_unlinkat,
        SYS_utime,
        SYS_utimensat,
        SYS_utimes,
        SYS_vfork,
        SYS_vmsplice,
        SYS_wait4,
        SYS_waitid,
        SYS_write,
        SYS_writev,
        // io_pgetevents, which libc does not name on x86_64.
        333,
        // Allowed by Docker from Linux 4.8 on.
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        // For the capabilities a container keeps (CAP_SYS_CHROOT), and
        // this architecture.
        SYS_chroot,
        SYS_arch_prctl,
        SYS_modify_ldt,
    ]
};

/// The namespace flags `clone` may not be given (`CLONE_NEWNS`,
/// `CLONE_NEWUTS`, `CLONE_NEWIPC`, `CLONE_NEWUSER`, `CLONE_NEWPID`,
/// `CLONE_NEWNET`, `CLONE_NEWCGROUP`).
pub const NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// The personas `personality` may set: Linux, `PER_LINUX32`,
/// `UNAME26`, both, and the query (`0xffffffff`).
const PERSONAS: [u64; 5] = [0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

const AF_VSOCK: u64 = 40;

fn condition(
    arg: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| e.to_string())
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| e.to_string())
}

/// The default profile, as the filters to install in order.
#[cfg(target_arch = "x86_64")]
pub fn default_profile() -> Result<Vec<BpfProgram>, String> {
    use std::collections::BTreeMap;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|n| (*n, Vec::new())).collect();
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![condition(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(NAMESPACE_FLAGS),
            0,
        )?])?],
    );
    rules.insert(
        libc::SYS_socket,
        vec![rule(vec![condition(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            AF_VSOCK,
        )?])?],
    );
    rules.insert(
        libc::SYS_personality,
        PERSONAS
            .iter()
            .map(|persona| {
                rule(vec![condition(
                    0,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::Eq,
                    *persona,
                )?])
            })
            .collect::<Result<_, _>>()?,
    );
    // Allowed here, so that the second filter's ENOSYS is what it gets.
    rules.insert(libc::SYS_clone3, Vec::new());
    let arch = seccompiler::TargetArch::x86_64;
    let allow_list = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    let no_clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    [allow_list, no_clone3]
        .into_iter()
        .map(|filter| BpfProgram::try_from(filter).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(not(target_arch = "x86_64"))]
pub fn default_profile() -> Result<Vec<BpfProgram>, String> {
    Err("this architecture has no default seccomp profile here yet: run the container with --security-opt seccomp=unconfined".into())
}

/// The kernel's view of one filter, made before a fork.
pub struct Installable {
    _program: BpfProgram,
    fprog: libc::sock_fprog,
}

// SAFETY: `fprog` points into `_program`, which it owns and never changes.
unsafe impl Send for Installable {}

impl Installable {
    pub fn new(program: BpfProgram) -> Installable {
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        Installable {
            _program: program,
            fprog,
        }
    }
}

/// Installs the filters (no_new_privs must be set): one raw system call
/// each, nothing allocated, so a forked child may call it.
pub fn install(filters: &[Installable]) -> Result<(), nix::errno::Errno> {
    for filter in filters {
        // SAFETY: the program outlives the call; the kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &filter.fprog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_compiles_to_two_filters() {
        let filters = default_profile().unwrap();
        assert_eq!(filters.len(), 2);
        assert!(filters[0].len() > ALLOWED.len(), "a jump at least per call");
        for name in [
            libc::SYS_unshare,
            libc::SYS_keyctl,
            libc::SYS_mount,
            libc::SYS_setns,
        ] {
            assert!(!ALLOWED.contains(&name), "{name} is not allowed");
        }
    }
}
