//! The simulated cgroup v2 hierarchy: limits as the interface files hold
//! them, usage charged by the processes the simulation runs, the CPU
//! scheduler (`cpu.weight` shares, `cpu.max` quota and throttling) and the
//! memory limit check that calls the OOM killer.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cgroup::{Cgroup, CgroupLimits, CgroupUsage, DEFAULT_CPU_WEIGHT};
use crate::process::Pid;

#[derive(Clone, Debug, Default)]
pub(crate) struct SimCgroup {
    pub limits: CgroupLimits,
    pub usage: CgroupUsage,
    /// CPU time used in the current `cpu.max` period.
    period_used_usec: u64,
    /// The period `period_used_usec` counts for.
    period: u64,
    /// Whether it was already throttled in this period.
    throttled_in_period: bool,
    /// The last period it had runnable processes in.
    last_active_period: Option<u64>,
    /// The `cpu.shares` last written on a v1 host, with the weight it
    /// became: shown back as written while that weight holds.
    pub v1_shares: Option<(u64, u32)>,
}

impl SimCgroup {
    /// v1's `cpu.shares` for its weight, as the real engine writes it.
    pub fn shares(&self) -> u64 {
        match self.v1_shares {
            Some((shares, weight)) if weight == self.limits.cpu_weight => shares,
            _ => crate::cgroup::v1_shares(self.limits.cpu_weight),
        }
    }
}

/// A process that wants the CPU this quantum: its cgroup, and how much of
/// the quantum it would use (all of it when it spins).
pub(crate) struct Runnable<'a> {
    pub pid: Pid,
    pub cgroup: &'a str,
    pub want_usec: u64,
}

/// Shares `capacity` between entities with `(weight, demand)`, in
/// proportion to weight, none above its demand: water-filling, in integer
/// microseconds so that it is deterministic.
fn water_fill(capacity: u64, entities: &[(u64, u64)]) -> Vec<u64> {
    let mut granted = vec![0u64; entities.len()];
    let mut open: Vec<usize> = (0..entities.len()).filter(|&i| entities[i].1 > 0).collect();
    let mut left = capacity;
    while left > 0 && !open.is_empty() {
        let total_weight: u64 = open.iter().map(|&i| entities[i].0.max(1)).sum();
        let mut satisfied = Vec::new();
        let mut given = 0;
        for &i in &open {
            let share = left * entities[i].0.max(1) / total_weight;
            let want = entities[i].1 - granted[i];
            if want <= share {
                granted[i] += want;
                given += want;
                satisfied.push(i);
            }
        }
        if satisfied.is_empty() {
            // Nobody is capped: everyone gets a weighted share; the
            // rounding remainder goes to the first ones, in order.
            let mut rest = left;
            for &i in &open {
                let share = left * entities[i].0.max(1) / total_weight;
                granted[i] += share;
                rest -= share;
            }
            for &i in &open {
                if rest == 0 {
                    break;
                }
                if granted[i] < entities[i].1 {
                    granted[i] += 1;
                    rest -= 1;
                }
            }
            break;
        }
        left -= given;
        open.retain(|i| !satisfied.contains(i));
    }
    granted
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

    pub fn get(&self, path: &str) -> Option<&SimCgroup> {
        self.tree.get(path)
    }

    /// The cgroups below `path`, at any depth: their paths from it.
    fn below<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a str> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        let skip = prefix.len();
        self.tree
            .range(prefix.clone()..)
            .take_while(move |(p, _)| p.starts_with(&prefix))
            .map(move |(p, _)| &p[skip..])
            .filter(|rest| !rest.is_empty())
    }

    /// How many cgroups are below a cgroup, at any depth.
    pub fn descendants(&self, path: &str) -> usize {
        self.below(path).count()
    }

    /// The cgroups directly below `path`, as names.
    pub fn children(&self, path: &str) -> Vec<String> {
        self.below(path)
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// If charging `bytes` more to `path` would go over a `memory.max` (or
    /// over the host's memory at the root), the cgroup whose limit it hits:
    /// the lowest one, as the kernel's page counters report it.
    pub fn memory_limit_hit(&self, path: &str, bytes: u64, host_memory: u64) -> Option<String> {
        let mut paths = ancestors(path);
        paths.push(path.to_string());
        for p in paths.iter().rev() {
            let Some(cg) = self.tree.get(p) else { continue };
            let max = if p == "/" {
                Some(host_memory)
            } else {
                cg.limits.memory_max
            };
            if let Some(max) = max
                && cg.usage.memory_current + bytes > max
            {
                return Some(p.clone());
            }
        }
        None
    }

    /// Runs the CPU scheduler for one quantum of `quantum_usec` on `cpus`
    /// CPUs, starting at `now_usec`. A process wants at most the whole
    /// quantum on one CPU. Sibling cgroups share by `cpu.weight` (a process
    /// counts as weight 100 next to them); a cgroup that has used its
    /// `cpu.max` quota in the current period gets nothing until the next
    /// one, and that is counted as throttling in its `cpu.stat`. Returns the
    /// CPU time each process got, and charges it.
    pub fn schedule(
        &mut self,
        runnable: &[Runnable],
        cpus: u64,
        quantum_usec: u64,
        now_usec: u64,
    ) -> BTreeMap<Pid, u64> {
        if runnable.is_empty() {
            return BTreeMap::new();
        }
        // The active part of the tree: every cgroup with a runnable
        // process in it or below.
        let mut members: BTreeMap<String, Vec<(Pid, u64)>> = BTreeMap::new();
        for r in runnable {
            members
                .entry(r.cgroup.to_string())
                .or_default()
                .push((r.pid, r.want_usec.min(quantum_usec)));
        }
        let mut active: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in members.keys() {
            active.entry(path.clone()).or_default();
            let mut chain = ancestors(path);
            chain.push(path.clone());
            for pair in chain.windows(2) {
                let children = active.entry(pair[0].clone()).or_default();
                if !children.contains(&pair[1]) {
                    children.push(pair[1].clone());
                }
            }
        }
        active.entry("/".into()).or_default();

        // A new period resets the quota; count the periods with work.
        let mut room: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for path in active.keys() {
            let cg = self.tree.entry(path.clone()).or_default();
            let period_len = cg.limits.cpu_max.period_usec.max(1000);
            let period = now_usec / period_len;
            if period != cg.period {
                cg.period = period;
                cg.period_used_usec = 0;
                cg.throttled_in_period = false;
            }
            if cg.limits.cpu_max.quota_usec.is_some() && cg.last_active_period != Some(period) {
                cg.last_active_period = Some(period);
                cg.usage.nr_periods += 1;
            }
            room.insert(
                path.clone(),
                cg.limits
                    .cpu_max
                    .quota_usec
                    .map(|quota| quota.saturating_sub(cg.period_used_usec)),
            );
        }

        // Demand bottom-up: what each cgroup would take, and what its
        // quota lets it take.
        let mut wanted: BTreeMap<String, u64> = BTreeMap::new();
        let mut demand: BTreeMap<String, u64> = BTreeMap::new();
        for path in active.keys().rev() {
            let own: u64 = members
                .get(path)
                .map_or(0, |m| m.iter().map(|(_, want)| want).sum());
            let below: u64 = active[path].iter().map(|c| demand[c]).sum();
            let want = own + below;
            wanted.insert(path.clone(), want);
            demand.insert(
                path.clone(),
                match room[path] {
                    Some(room) => want.min(room),
                    None => want,
                },
            );
        }

        // Capacity top-down, by weight.
        let mut granted_cg: BTreeMap<String, u64> = BTreeMap::new();
        let mut granted: BTreeMap<Pid, u64> = BTreeMap::new();
        let mut queue = vec![("/".to_string(), (cpus * quantum_usec).min(demand["/"]))];
        while let Some((path, capacity)) = queue.pop() {
            granted_cg.insert(path.clone(), capacity);
            let children = &active[&path];
            let pids = members.get(&path).cloned().unwrap_or_default();
            let mut entities: Vec<(u64, u64)> = children
                .iter()
                .map(|c| {
                    let weight = self
                        .tree
                        .get(c)
                        .map_or(DEFAULT_CPU_WEIGHT, |cg| cg.limits.cpu_weight);
                    (u64::from(weight), demand[c])
                })
                .collect();
            entities.extend(
                pids.iter()
                    .map(|(_, want)| (u64::from(DEFAULT_CPU_WEIGHT), *want)),
            );
            let shares = water_fill(capacity, &entities);
            for (child, share) in children.iter().zip(&shares) {
                queue.push((child.clone(), *share));
            }
            for ((pid, _), share) in pids.iter().zip(&shares[children.len()..]) {
                granted.insert(*pid, *share);
            }
        }

        // Charge usage; account throttling where the quota held work back.
        for (path, got) in &granted_cg {
            let cg = self.tree.get_mut(path).expect("active cgroups exist");
            cg.usage.cpu_usage_usec += got;
            cg.period_used_usec += got;
            if let Some(room) = room[path]
                && wanted[path] > room
            {
                if !cg.throttled_in_period {
                    cg.throttled_in_period = true;
                    cg.usage.nr_throttled += 1;
                }
                cg.usage.throttled_usec += wanted[path] - room;
            }
        }
        granted
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
                cg.usage.pids_peak = cg.usage.pids_peak.max(cg.usage.pids_current);
            }
        }
    }

    fn chain<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a SimCgroup> {
        let mut paths = ancestors(path);
        paths.push(path.to_string());
        paths.into_iter().filter_map(|p| self.tree.get(&p))
    }

    /// The cgroups as a snapshot lists them (by path), reusing the
    /// entries of `cache` (the last snapshot's) that did not change.
    pub fn snapshot(&self, cache: &mut Vec<Arc<Cgroup>>) -> Vec<Arc<Cgroup>> {
        let mut old = cache.iter().peekable();
        let mut fresh = Vec::with_capacity(self.tree.len());
        for (path, cg) in &self.tree {
            while old.peek().is_some_and(|o| o.path < *path) {
                old.next();
            }
            let entry = match old.peek() {
                Some(o) if o.path == *path && o.limits == cg.limits && o.usage == cg.usage => {
                    Arc::clone(o)
                }
                _ => Arc::new(Cgroup {
                    path: path.clone(),
                    limits: cg.limits,
                    usage: cg.usage,
                }),
            };
            fresh.push(entry);
        }
        *cache = fresh.clone();
        fresh
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
    fn water_filling_shares_by_weight_and_caps_at_demand() {
        assert_eq!(water_fill(20, &[(100, 20), (300, 20)]), [5, 15]);
        assert_eq!(water_fill(20, &[(100, 4), (100, 20)]), [4, 16]);
        assert_eq!(water_fill(20, &[(100, 5), (100, 5)]), [5, 5]);
        assert_eq!(
            water_fill(10, &[(100, 10), (100, 10), (100, 10)]),
            [4, 3, 3]
        );
    }

    #[test]
    fn a_quota_throttles_a_busy_cgroup_for_the_rest_of_its_period() {
        let mut cgroups = Cgroups::boot();
        let half = CgroupLimits {
            cpu_max: crate::cgroup::CpuMax::from_cpus(0.5).unwrap(),
            ..CgroupLimits::default()
        };
        cgroups.create("/c", half);
        let mut got = 0;
        for quantum in 0..20u64 {
            let grant = cgroups.schedule(
                &[Runnable {
                    pid: 7,
                    cgroup: "/c",
                    want_usec: 10_000,
                }],
                2,
                10_000,
                quantum * 10_000,
            );
            got += grant[&7];
        }
        let usage = cgroups.tree["/c"].usage;
        assert_eq!(got, 100_000, "half a CPU for 200 ms");
        assert_eq!(usage.cpu_usage_usec, 100_000);
        assert_eq!(usage.nr_periods, 2);
        assert_eq!(usage.nr_throttled, 2);
        assert_eq!(usage.throttled_usec, 100_000);
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
