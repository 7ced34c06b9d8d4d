//! The simulated cgroup v2 hierarchy: limits as the interface files hold
//! them, and usage charged by the processes the simulation runs.

use std::collections::BTreeMap;

use crate::cgroup::{Cgroup, CgroupLimits, CgroupUsage};

#[derive(Clone, Debug, Default)]
pub(crate) struct SimCgroup {
    pub limits: CgroupLimits,
    pub usage: CgroupUsage,
}

#[derive(Clone, Debug)]
pub(crate) struct Cgroups {
    pub tree: BTreeMap<String, SimCgroup>,
}

impl Cgroups {
    pub fn boot() -> Cgroups {
        let mut tree = BTreeMap::new();
        tree.insert("/".to_string(), SimCgroup::default());
        Cgroups { tree }
    }

    /// Creates a cgroup and any missing ancestors (`mkdir -p`).
    pub fn create(&mut self, path: &str, limits: CgroupLimits) {
        for ancestor in ancestors(path) {
            self.tree.entry(ancestor).or_default();
        }
        self.tree.entry(path.to_string()).or_default().limits = limits;
    }

    /// Removes an empty cgroup (`rmdir`): its processes must be gone.
    pub fn remove(&mut self, path: &str) {
        if path != "/" {
            self.tree.remove(path);
        }
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut SimCgroup> {
        self.tree.get_mut(path)
    }

    /// Whether a fork into `path` would exceed `pids.max` there or above.
    pub fn fork_allowed(&self, path: &str) -> bool {
        self.chain(path).all(|cg| match cg.limits.pids_max {
            Some(max) => cg.usage.pids_current < max,
            None => true,
        })
    }

    /// Applies `f` to a cgroup and every ancestor: hierarchical charging.
    pub fn charge(&mut self, path: &str, mut f: impl FnMut(&mut CgroupUsage)) {
        let mut paths = ancestors(path);
        paths.push(path.to_string());
        for p in paths {
            if let Some(cg) = self.tree.get_mut(&p) {
                f(&mut cg.usage);
            }
        }
    }

    fn chain<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a SimCgroup> {
        let mut paths = ancestors(path);
        paths.push(path.to_string());
        paths.into_iter().filter_map(|p| self.tree.get(&p))
    }

    pub fn snapshot(&self) -> Vec<Cgroup> {
        self.tree
            .iter()
            .map(|(path, cg)| Cgroup {
                path: path.clone(),
                limits: cg.limits,
                usage: cg.usage,
            })
            .collect()
    }
}

/// `/a/b/c` → `["/", "/a", "/a/b"]`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out = vec!["/".to_string()];
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for i in 1..parts.len() {
        out.push(format!("/{}", parts[..i].join("/")));
    }
    if path == "/" {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_root_down() {
        assert_eq!(ancestors("/a/b/c"), ["/", "/a", "/a/b"]);
        assert_eq!(ancestors("/a"), ["/"]);
        assert!(ancestors("/").is_empty());
    }

    #[test]
    fn pids_max_holds_at_every_level() {
        let mut cgroups = Cgroups::boot();
        cgroups.create(
            "/anchorage",
            CgroupLimits {
                pids_max: Some(2),
                ..CgroupLimits::default()
            },
        );
        cgroups.create("/anchorage/c1", CgroupLimits::default());
        assert!(cgroups.fork_allowed("/anchorage/c1"));
        cgroups.charge("/anchorage/c1", |u| u.pids_current += 2);
        assert!(!cgroups.fork_allowed("/anchorage/c1"));
        assert_eq!(cgroups.tree["/"].usage.pids_current, 2);
    }
}
