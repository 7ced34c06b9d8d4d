//! The init's setup against a recording kernel: the order of the calls
//! and their arguments, without root.

use std::os::fd::OwnedFd;

use super::*;

#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
    /// A call (by prefix) to fail, and with what.
    fail: Option<(String, Errno)>,
    exec_result: Option<Errno>,
}

impl Recorder {
    fn record(&mut self, call: String) -> nix::Result<()> {
        let failing = self
            .fail
            .as_ref()
            .is_some_and(|(prefix, _)| call.starts_with(prefix.as_str()));
        self.calls.push(call);
        match &self.fail {
            Some((_, errno)) if failing => Err(*errno),
            _ => Ok(()),
        }
    }

    fn position(&self, prefix: &str) -> usize {
        self.calls
            .iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no call {prefix} in {:#?}", self.calls))
    }
}

/// `MsFlags(MS_BIND | MS_REC)` as `MS_BIND | MS_REC`.
fn bare(flags: impl std::fmt::Debug) -> String {
    let text = format!("{flags:?}");
    match (text.find('('), text.rfind(')')) {
        (Some(open), Some(close)) => text[open + 1..close].to_string(),
        _ => text,
    }
}

fn filters() -> Vec<crate::process::seccomp::Installable> {
    filters_for(anchorage_shared::container::Seccomp::Default).unwrap()
}

fn null_fd() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

impl Kernel for Recorder {
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        // Descriptor paths differ from run to run.
        let fd = |path: &str| {
            if path.starts_with("/proc/self/fd/") {
                "fd".to_string()
            } else {
                path.to_string()
            }
        };
        let target = fd(&target.to_string_lossy());
        self.record(format!(
            "mount {} {target} {} {} {}",
            source.map(fd).as_deref().unwrap_or("-"),
            fstype.unwrap_or("-"),
            bare(flags),
            data.unwrap_or("-")
        ))
    }
    fn umount(&mut self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.record(format!("umount {} {}", target.display(), bare(flags)))
    }
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.record(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ))
    }
    fn chdir(&mut self, path: &Path) -> nix::Result<()> {
        self.record(format!("chdir {}", path.display()))
    }
    fn sethostname(&mut self, name: &str) -> nix::Result<()> {
        self.record(format!("sethostname {name}"))
    }
    fn unshare(&mut self, flags: CloneFlags) -> nix::Result<()> {
        self.record(format!("unshare {}", bare(flags)))
    }
    fn make_dir_in(&mut self, _root: &Path, path: &str) -> nix::Result<OwnedFd> {
        self.record(format!("mkdir {path}")).map(|()| null_fd())
    }
    fn make_file_in(&mut self, _root: &Path, path: &str) -> nix::Result<OwnedFd> {
        self.record(format!("mkfile {path}")).map(|()| null_fd())
    }
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()> {
        self.record(format!("symlink {} -> {target}", link.display()))
    }
    fn loopback_up(&mut self) -> nix::Result<()> {
        self.record("lo up".into())
    }
    fn keep_capabilities(&mut self, keep: &[caps::Capability]) -> Result<(), String> {
        self.record(format!("caps {}", keep.len()))
            .map_err(|e| e.desc().to_string())
    }
    fn no_new_privs(&mut self) -> nix::Result<()> {
        self.record("no_new_privs".into())
    }
    fn seccomp(&mut self, filters: &[crate::process::seccomp::Installable]) -> nix::Result<()> {
        self.record(format!("seccomp {}", filters.len()))
    }
    fn close_from(&mut self, first: u32) -> nix::Result<()> {
        self.record(format!("close_from {first}"))
    }
    fn exec(&mut self, path: &str, argv: &[String], _env: &[String]) -> nix::Error {
        let _ = self.record(format!("exec {path} {argv:?}"));
        self.exec_result.unwrap_or(Errno::ENOEXEC)
    }
    fn open_no_follow(&mut self, path: &Path) -> nix::Result<(OwnedFd, bool)> {
        self.record(format!("open {}", path.display()))
            .map(|()| (null_fd(), true))
    }
    fn open_source(&mut self, path: &Path) -> nix::Result<(OwnedFd, bool)> {
        self.open_no_follow(path)
    }
    fn clone_tree(&mut self, _fd: &OwnedFd) -> nix::Result<OwnedFd> {
        self.record("clone_tree".into()).map(|()| null_fd())
    }
    fn userns(&mut self, inner: u32, outer: u32, count: u32) -> nix::Result<OwnedFd> {
        self.record(format!("userns {inner} {outer} {count}"))
            .map(|()| null_fd())
    }
    fn set_idmap(&mut self, _tree: &OwnedFd, _userns: &OwnedFd) -> nix::Result<()> {
        self.record("idmap".into())
    }
    fn attach_at(&mut self, _tree: &OwnedFd, path: &Path) -> nix::Result<()> {
        self.record(format!("attach_at {}", path.display()))
    }
    fn attach_to(&mut self, _tree: &OwnedFd, _target: &OwnedFd) -> nix::Result<()> {
        self.record("attach_to".into())
    }
    fn overlay(&mut self, lower: &Path, upper: &Path, work: &Path) -> nix::Result<OwnedFd> {
        self.record(format!(
            "overlay {} {} {}",
            lower.display(),
            upper.display(),
            work.display()
        ))
        .map(|()| null_fd())
    }
    fn enter_root(&mut self, _root: &OwnedFd) -> nix::Result<()> {
        self.record("enter_root".into())
    }
}

fn plan(dir: &Path) -> Plan {
    Plan {
        lower: "/data/images/abc/rootfs".into(),
        upper: "/data/containers/c1/upper".into(),
        work: "/data/containers/c1/work".into(),
        merged: dir.to_path_buf(),
        hostname: "c1".into(),
        volumes: vec![
            Bind {
                source: "/srv/data".into(),
                target: "/data".into(),
                shift: false,
            },
            Bind {
                source: "/data/volumes/db/_data".into(),
                target: "/db".into(),
                shift: true,
            },
        ],
        argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
        env: vec!["PATH=/bin".into(), "HOME=/root".into()],
        cwd: "/".into(),
        lower_mount: "/data/containers/c1/lower".into(),
        seccomp: anchorage_shared::container::Seccomp::Default,
        cgroupfs: Vec::new(),
    }
}

/// A root with `/bin/sh`, so the command is found after the (recorded)
/// pivot: `find_command` looks at the real `/`, so the test looks for a
/// command the host has too.
fn host_plan(dir: &Path) -> Plan {
    let mut plan = plan(dir);
    plan.env = vec!["PATH=/usr/bin:/bin".into()];
    plan
}

#[test]
fn a_v1_host_gives_the_container_its_hierarchies_in_a_read_only_tmpfs() {
    use crate::cgroup::CgroupMount;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = host_plan(dir.path());
    plan.cgroupfs = vec![
        CgroupMount::V1 {
            name: "cpu,cpuacct".into(),
            options: "cpu,cpuacct".into(),
        },
        CgroupMount::V1 {
            name: "memory".into(),
            options: "memory".into(),
        },
        CgroupMount::Link {
            name: "cpu".into(),
            target: "cpu,cpuacct".into(),
        },
        CgroupMount::V2 {
            name: "unified".into(),
        },
    ];
    let mut k = Recorder::default();
    setup(&mut k, &plan, None, &filters(), || true).unwrap();
    let cgroupns = k.position("unshare CLONE_NEWCGROUP");
    let tmpfs = k.position("mount tmpfs /sys/fs/cgroup tmpfs MS_NOSUID | MS_NODEV | MS_NOEXEC");
    let cpu = k.position("mount cgroup /sys/fs/cgroup/cpu,cpuacct cgroup MS_RDONLY");
    assert!(k.calls[cpu].ends_with(" cpu,cpuacct"), "{}", k.calls[cpu]);
    let memory = k.position("mount cgroup /sys/fs/cgroup/memory cgroup MS_RDONLY");
    let link = k.position("symlink /sys/fs/cgroup/cpu -> cpu,cpuacct");
    let unified = k.position("mount cgroup2 /sys/fs/cgroup/unified cgroup2 MS_RDONLY");
    let sealed = k.position(
        "mount - /sys/fs/cgroup - MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REMOUNT",
    );
    let nnp = k.position("no_new_privs");
    assert!(cgroupns < tmpfs && tmpfs < cpu && cpu < memory && memory < link);
    assert!(link < unified && unified < sealed && sealed < nnp);
    assert!(k.position("mkdir cpu,cpuacct") < cpu);
}

#[test]
fn the_root_is_built_then_pivoted_into_and_privileges_go_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Recorder::default();
    let program = setup(&mut k, &host_plan(dir.path()), None, &filters(), || true).unwrap();
    assert!(program.ends_with("/sh"), "{program}");
    let merged = dir.path().display().to_string();

    assert!(
        k.calls[0].starts_with("mount - / - MS_REC | MS_PRIVATE"),
        "{}",
        k.calls[0]
    );
    let overlay = k.position(&format!("mount overlay {merged} overlay"));
    assert!(
        k.calls[overlay].ends_with(
            "lowerdir=/data/images/abc/rootfs,upperdir=/data/containers/c1/upper,workdir=/data/containers/c1/work,userxattr"
        ),
        "{}",
        k.calls[overlay]
    );
    let proc = k.position(&format!("mount proc {merged}/proc proc"));
    let dev = k.position(&format!("mount tmpfs {merged}/dev tmpfs"));
    let null = k.position("mount /dev/null fd - MS_BIND");
    let sys = k.position(&format!("mount sysfs {merged}/sys sysfs MS_RDONLY"));
    let open = k.position("open /srv/data");
    let volume = k.position("mount fd fd - MS_BIND | MS_REC");
    assert!(
        open < volume,
        "the source is opened without following a link, then bound"
    );
    let pivot = k.position("pivot_root . .");
    let detach = k.position("umount . MNT_DETACH");
    let lo = k.position("lo up");
    let cgroupns = k.position("unshare CLONE_NEWCGROUP");
    let cgroupfs = k.position("mount cgroup2 /sys/fs/cgroup cgroup2 MS_RDONLY");
    let nnp = k.position("no_new_privs");
    let caps = k.position("caps 14");
    let seccomp = k.position("seccomp 2");
    let close = k.position("close_from 3");
    assert!(overlay < proc && proc < dev && dev < null && null < sys && sys < volume);
    assert!(volume < pivot && pivot < detach && detach < lo);
    assert!(lo < cgroupns && cgroupns < cgroupfs && cgroupfs < nnp);
    assert!(nnp < caps && caps < seccomp && seccomp < close);
    assert_eq!(k.calls.last().unwrap(), "close_from 3");
    assert!(k.calls.contains(&"sethostname c1".to_string()));
    assert!(
        k.calls
            .contains(&format!("symlink {merged}/dev/fd -> /proc/self/fd"))
    );
    assert!(k.calls.contains(&"mkdir /data".to_string()));
}

#[test]
fn as_root_the_supervisor_prepares_the_root_and_volumes_shifted() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Recorder::default();
    let shift = Shift {
        from: 100_000,
        to: 165_536,
        count: 65_536,
    };
    let prepared = prepare(&mut k, &host_plan(dir.path()), Some(shift)).unwrap();
    assert_eq!(prepared.volumes.len(), 2);
    assert_eq!(
        k.calls,
        [
            "unshare CLONE_NEWNS",
            "mount - / - MS_REC | MS_SLAVE -",
            "userns 100000 165536 65536",
            "open /data/images/abc/rootfs",
            "clone_tree",
            "idmap",
            "attach_at /data/containers/c1/lower",
            "overlay /data/containers/c1/lower /data/containers/c1/upper /data/containers/c1/work",
            "open /srv/data",
            "clone_tree",
            "open /data/volumes/db/_data",
            "clone_tree",
            "idmap",
        ],
        "the host path is not shifted, the named volume is"
    );

    // Without a shift the overlay stands on the image's root itself.
    let mut k = Recorder::default();
    prepare(&mut k, &host_plan(dir.path()), None).unwrap();
    assert!(
        !k.calls
            .iter()
            .any(|c| c == "idmap" || c.starts_with("userns"))
    );
    k.position("overlay /data/images/abc/rootfs ");

    // The init attaches what was prepared: no path of the host is looked
    // up, and everything is relative to the root it entered.
    let mut k = Recorder::default();
    setup(
        &mut k,
        &host_plan(dir.path()),
        Some(&prepared),
        &filters(),
        || true,
    )
    .unwrap();
    assert!(!k.calls.iter().any(|c| c.starts_with("mount overlay")));
    let enter = k.position("enter_root");
    let proc = k.position("mount proc ./proc proc");
    let attach = k.position("attach_to");
    let pivot = k.position("pivot_root . .");
    assert!(enter < proc && proc < attach && attach < pivot);
    assert!(
        !k.calls
            .iter()
            .any(|c| c.starts_with("chdir ") && c != "chdir /")
    );
    assert!(!k.calls.iter().any(|c| c.starts_with("open ")));
}

#[test]
fn a_failing_step_is_named_with_the_kernels_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Recorder {
        fail: Some(("mount overlay".into(), Errno::EINVAL)),
        ..Recorder::default()
    };
    let err = setup(&mut k, &plan(dir.path()), None, &filters(), || true).unwrap_err();
    assert!(
        err.step.starts_with("mount the overlay root (lowerdir="),
        "{err}"
    );
    assert_eq!(err.reason, "Invalid argument");
    assert_eq!(err.status, 125);
    assert!(
        !k.calls.iter().any(|c| c.starts_with("pivot_root")),
        "it stops there"
    );

    // No sysfs of its own: the host's, bound read-only.
    let mut k = Recorder {
        fail: Some(("mount sysfs".into(), Errno::EPERM)),
        ..Recorder::default()
    };
    setup(&mut k, &host_plan(dir.path()), None, &filters(), || true).unwrap();
    let merged = dir.path().display().to_string();
    k.position(&format!("mount /sys {merged}/sys - MS_BIND | MS_REC"));
    k.position(&format!("mount - {merged}/sys - MS_RDONLY"));
}

#[test]
fn commands_are_found_along_the_containers_path() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin/tool")).unwrap();
    std::fs::write(root.path().join("bin/tool"), "").unwrap();
    let env = vec!["PATH=/usr/bin:/bin".to_string()];
    assert_eq!(
        find_command(root.path(), "tool", &env).unwrap(),
        "/bin/tool",
        "directories are skipped"
    );
    assert_eq!(find_command(root.path(), "./x", &env).unwrap(), "./x");
    let err = find_command(root.path(), "nosuch", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    assert_eq!(err.status, 127);

    let mut k = Recorder {
        exec_result: Some(Errno::EACCES),
        ..Recorder::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let err = exec(&mut k, "/bin/tool", &plan(dir.path()));
    assert_eq!(
        (err.status, err.reason.as_str()),
        (126, "Permission denied")
    );
}
