//! Which cgroup layout a host has, read from `/proc/self/mountinfo`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anchorage_shared::host::CgroupLayout;

use super::CgroupError;

/// The v1 controllers the engine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
    Cpuacct,
}

impl Controller {
    pub const ALL: [Controller; 4] = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Cpuacct,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
        }
    }
}

/// Where the cgroup hierarchies are mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One cgroup2 hierarchy.
    Unified { root: PathBuf },
    /// One v1 hierarchy per controller (`cpu` and `cpuacct` may share one).
    Legacy {
        controllers: BTreeMap<Controller, PathBuf>,
    },
    /// v1 hierarchies for the controllers, plus a cgroup2 mount with no
    /// controllers of its own (systemd tracks processes there).
    Hybrid {
        controllers: BTreeMap<Controller, PathBuf>,
        unified: PathBuf,
    },
}

impl Layout {
    /// The model's name for it.
    pub fn kind(&self) -> CgroupLayout {
        match self {
            Layout::Unified { .. } => CgroupLayout::Unified,
            Layout::Legacy { .. } => CgroupLayout::Legacy,
            Layout::Hybrid { .. } => CgroupLayout::Hybrid,
        }
    }
}

/// Reads the layout from the text of `/proc/self/mountinfo`.
///
/// A v1 mount names its controllers in its super options (`rw,cpu,cpuacct`);
/// a cgroup2 mount is the unified hierarchy. When v1 mounts carry the
/// controllers the engine needs, v1 is used for them, and a cgroup2 mount
/// beside them makes the layout hybrid.
pub fn detect(mountinfo: &str) -> Result<Layout, CgroupError> {
    let mut controllers = BTreeMap::new();
    let mut unified = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split(' ').nth(4) else {
            continue;
        };
        let mut right = right.split(' ');
        let (Some(fstype), _, Some(super_options)) = (right.next(), right.next(), right.next())
        else {
            continue;
        };
        let mount_point = PathBuf::from(unescape(mount_point));
        match fstype {
            "cgroup2" => {
                unified.get_or_insert(mount_point);
            }
            "cgroup" => {
                for option in super_options.split(',') {
                    if let Some(c) = Controller::ALL.into_iter().find(|c| c.name() == option) {
                        controllers.entry(c).or_insert_with(|| mount_point.clone());
                    }
                }
            }
            _ => {}
        }
    }
    let has_v1 = controllers.contains_key(&Controller::Memory)
        || controllers.contains_key(&Controller::Pids)
        || controllers.contains_key(&Controller::Cpu);
    match (has_v1, unified) {
        (false, Some(root)) => Ok(Layout::Unified { root }),
        (true, Some(unified)) => Ok(Layout::Hybrid {
            controllers,
            unified,
        }),
        (true, None) => Ok(Layout::Legacy { controllers }),
        (false, None) => Err(CgroupError::Layout(
            "no cgroup hierarchy is mounted: mount cgroup2 at /sys/fs/cgroup (most distributions do this at boot)"
                .into(),
        )),
    }
}

/// mountinfo escapes spaces, tabs, newlines and backslashes as octal.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if digits.len() == 3
                && let Ok(code) = u8::from_str_radix(&digits, 8)
            {
                out.push(code as char);
                for _ in 0..3 {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}
