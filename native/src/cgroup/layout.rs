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
        /// The other hierarchies (cpuset, devices, systemd's named one...):
        /// a container gets its cgroup in each, as runc gives it, so its
        /// `/proc/self/cgroup` names one path throughout.
        others: Vec<PathBuf>,
    },
    /// v1 hierarchies for the controllers, plus a cgroup2 mount with no
    /// controllers of its own (systemd tracks processes there).
    Hybrid {
        controllers: BTreeMap<Controller, PathBuf>,
        unified: PathBuf,
        /// The other v1 hierarchies, and the unified one.
        others: Vec<PathBuf>,
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
    let mut others: Vec<PathBuf> = Vec::new();
    for (fstype, mount_point, super_options) in cgroup_mounts(mountinfo) {
        match fstype {
            "cgroup2" => {
                unified.get_or_insert(mount_point);
            }
            "cgroup" => {
                let mut used = false;
                for option in super_options.split(',') {
                    if let Some(c) = Controller::ALL.into_iter().find(|c| c.name() == option) {
                        controllers.entry(c).or_insert_with(|| mount_point.clone());
                        used = true;
                    }
                }
                // The same hierarchy may be mounted twice: once counts.
                let known = controllers.values().any(|m| *m == mount_point)
                    || others.contains(&mount_point);
                if !used && !known {
                    others.push(mount_point);
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
        (true, Some(unified)) => {
            others.push(unified.clone());
            Ok(Layout::Hybrid {
                controllers,
                unified,
                others,
            })
        }
        (true, None) => Ok(Layout::Legacy {
            controllers,
            others,
        }),
        (false, None) => Err(CgroupError::Layout(
            "no cgroup hierarchy is mounted: mount cgroup2 at /sys/fs/cgroup (most distributions do this at boot)"
                .into(),
        )),
    }
}

/// One entry of the `/sys/fs/cgroup` a container sees on a v1 or hybrid
/// host: the host's own entries there, mounted again in the container's
/// cgroup namespace (so each hierarchy's root is the container's cgroup),
/// as Docker does.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CgroupMount {
    /// A v1 hierarchy, with the options that name it (`memory`,
    /// `cpu,cpuacct`, `none,name=systemd`).
    V1 { name: String, options: String },
    /// The cgroup2 hierarchy beside them (`unified` on a hybrid host).
    V2 { name: String },
    /// A link between names (`cpu` to `cpu,cpuacct`).
    Link { name: String, target: String },
}

/// What a container's `/sys/fs/cgroup` holds, from the host's mountinfo
/// and the links in its `/sys/fs/cgroup` (name, target). Empty where the
/// host has cgroup2 at `/sys/fs/cgroup` itself: the container then gets
/// cgroup2 there too.
pub fn container_view(mountinfo: &str, links: &[(String, String)]) -> Vec<CgroupMount> {
    let base = std::path::Path::new("/sys/fs/cgroup");
    let mut view = Vec::new();
    for (fstype, mount_point, super_options) in cgroup_mounts(mountinfo) {
        if fstype == "cgroup2" && mount_point == base {
            return Vec::new();
        }
        let Some(name) = mount_point
            .strip_prefix(base)
            .ok()
            .and_then(|rest| rest.to_str())
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        else {
            continue;
        };
        let name = name.to_string();
        if view.iter().any(|m| matches!(m, CgroupMount::V1 { name: n, .. } | CgroupMount::V2 { name: n } if *n == name)) {
            continue;
        }
        match fstype {
            "cgroup" => {
                let options: Vec<&str> = super_options
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro"))
                    .collect();
                // A named hierarchy without controllers says `none`.
                let options = if options.iter().all(|o| o.starts_with("name=")) {
                    std::iter::once("none")
                        .chain(options)
                        .collect::<Vec<_>>()
                        .join(",")
                } else {
                    options.join(",")
                };
                view.push(CgroupMount::V1 { name, options });
            }
            "cgroup2" => view.push(CgroupMount::V2 { name }),
            _ => {}
        }
    }
    if view.is_empty() {
        return view;
    }
    for (name, target) in links {
        let known = |n: &str| {
            view.iter()
                .any(|m| matches!(m, CgroupMount::V1 { name, .. } if name == n))
        };
        if !name.contains('/') && known(target) && !known(name) {
            view.push(CgroupMount::Link {
                name: name.clone(),
                target: target.clone(),
            });
        }
    }
    view
}

/// [`container_view`] of this host.
pub fn host_container_view() -> Vec<CgroupMount> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let links: Vec<(String, String)> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_str()?.to_string(),
                target.to_str()?.to_string(),
            ))
        })
        .collect();
    container_view(&mountinfo, &links)
}

/// Each mount of mountinfo: its file system type, mount point and super
/// options.
fn cgroup_mounts(mountinfo: &str) -> impl Iterator<Item = (&str, PathBuf, &str)> {
    mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split(' ').nth(4)?;
        let mut right = right.split(' ');
        let (fstype, _, super_options) = (right.next()?, right.next()?, right.next()?);
        Some((fstype, PathBuf::from(unescape(mount_point)), super_options))
    })
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
