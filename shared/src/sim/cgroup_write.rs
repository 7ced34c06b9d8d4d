//! Writing a cgroup's control files, as the host's root does on Linux:
//! `echo 20000 100000 > cpu.max`, `echo 64M > memory.max`, `echo 20 >
//! pids.max`, `echo PID > cgroup.procs`. Each write is parsed as the
//! kernel parses it (a bad value is `EINVAL`, a missing pid `ESRCH`) and
//! takes effect at once: a lower `memory.max` reclaims, then OOM-kills; a
//! process moved to another cgroup is charged there. Inside a container
//! cgroupfs is read-only, as Docker mounts it.

use super::cgroupfs;
use super::fs::Errno;
use super::namespace::Backing;
use super::*;
use crate::cgroup::CpuMax;

/// `pids.max` must be below this (`PIDS_MAX`, `PID_MAX_LIMIT + 1`).
const PIDS_MAX: u64 = 4_194_305;

/// The kernel's page size: `memory.max` is kept in whole pages.
const PAGE: u64 = 4096;

impl SimEngine {
    /// The cgroup and control file a path names, if it is in a cgroupfs
    /// the viewer can write (`Err` when it is one but read-only there).
    pub(crate) fn control_file(
        &self,
        viewer: Pid,
        path: &str,
    ) -> Option<Result<(String, String), Errno>> {
        let abs = self.resolve(viewer, path, true).ok()?;
        let mnt = self.processes.get(&viewer)?.ns[&NamespaceKind::Mnt];
        let (mount, rel) = self.namespaces.mount_of(mnt, &abs)?;
        let Backing::Cgroup { hierarchy, root } = &mount.backing else {
            return None;
        };
        if mount.read_only() {
            return Some(Err(Errno::RoFs));
        }
        Some(match self.cgroup_split(*hierarchy, root, rel) {
            Ok((cgroup, Some(file))) if cgroupfs::writable(&file, cgroup == "/") => {
                Ok((cgroup, file))
            }
            Ok((_, Some(_))) => Err(Errno::Access),
            Ok((_, None)) => Err(Errno::IsDir),
            Err(err) => Err(err),
        })
    }

    /// One `write(2)` to a control file.
    pub(crate) fn write_control(
        &mut self,
        writer: Pid,
        cgroup: &str,
        file: &str,
        data: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<(), Errno> {
        let text = std::str::from_utf8(data).map_err(|_| Errno::Inval)?.trim();
        match file {
            "memory.max" => {
                let max = match text {
                    "max" => None,
                    _ => Some(memparse(text)? / PAGE * PAGE),
                };
                self.set_cgroup(cgroup, |l| l.memory_max = max)?;
                // Lowering it below usage reclaims, then OOM-kills.
                self.make_room(cgroup, 0, events);
                Ok(())
            }
            "pids.max" => {
                let max = match text {
                    "max" => None,
                    // The kernel's bound: PID_MAX_LIMIT + 1.
                    _ => Some(
                        text.parse::<u64>()
                            .ok()
                            .filter(|n| *n < PIDS_MAX)
                            .ok_or(Errno::Inval)?,
                    ),
                };
                self.set_cgroup(cgroup, |l| l.pids_max = max)
            }
            "cpu.max" => {
                let mut words = text.split_whitespace();
                let quota = words.next().ok_or(Errno::Inval)?;
                let old = self.cgroups.get(cgroup).ok_or(Errno::NoEnt)?.limits.cpu_max;
                let period = match words.next() {
                    Some(p) => p.parse::<u64>().map_err(|_| Errno::Inval)?,
                    None => old.period_usec,
                };
                if words.next().is_some() || !(1_000..=1_000_000).contains(&period) {
                    return Err(Errno::Inval);
                }
                let quota_usec = match quota {
                    "max" => None,
                    q => {
                        let q = q.parse::<u64>().map_err(|_| Errno::Inval)?;
                        if q < 1_000 {
                            return Err(Errno::Inval);
                        }
                        Some(q)
                    }
                };
                self.set_cgroup(cgroup, |l| {
                    l.cpu_max = CpuMax {
                        quota_usec,
                        period_usec: period,
                    }
                })
            }
            "cpu.weight" => {
                let weight = text.parse::<u32>().map_err(|_| Errno::Inval)?;
                if !(1..=10_000).contains(&weight) {
                    return Err(Errno::Inval);
                }
                self.set_cgroup(cgroup, |l| l.cpu_weight = weight)
            }
            "cgroup.procs" | "tasks" => {
                let inner = text.parse::<Pid>().map_err(|_| Errno::Inval)?;
                self.move_to_cgroup(writer, inner, cgroup, events)
            }
            // v1's names for the same limits, parsed as v1 parses them.
            "memory.limit_in_bytes" => {
                let max = match text {
                    "-1" => None,
                    _ => Some(memparse(text)? / PAGE * PAGE),
                };
                // v1 reclaims down to a lower limit, and refuses it
                // (EBUSY) when what is charged cannot be reclaimed: it
                // does not OOM-kill for it.
                let current = self
                    .cgroups
                    .get(cgroup)
                    .ok_or(Errno::NoEnt)?
                    .usage
                    .memory_current;
                if max.is_some_and(|m| m < current) {
                    return Err(Errno::Busy);
                }
                self.set_cgroup(cgroup, |l| l.memory_max = max)
            }
            "cpu.cfs_quota_us" => {
                let quota = text.parse::<i64>().map_err(|_| Errno::Inval)?;
                // Any negative quota is "no limit"; a limit is at least 1 ms.
                let quota_usec = match u64::try_from(quota) {
                    Err(_) => None,
                    Ok(q) if q < 1_000 => return Err(Errno::Inval),
                    Ok(q) => Some(q),
                };
                self.set_cgroup(cgroup, |l| l.cpu_max.quota_usec = quota_usec)
            }
            "cpu.cfs_period_us" => {
                let period = text.parse::<u64>().map_err(|_| Errno::Inval)?;
                if !(1_000..=1_000_000).contains(&period) {
                    return Err(Errno::Inval);
                }
                self.set_cgroup(cgroup, |l| l.cpu_max.period_usec = period)
            }
            "cpu.shares" => {
                // Clamped, never refused: 2 to 262144.
                let shares = text
                    .parse::<u64>()
                    .map_err(|_| Errno::Inval)?
                    .clamp(2, 262_144);
                let weight = crate::cgroup::weight_for_v1_shares(shares);
                let cg = self.cgroups.get_mut(cgroup).ok_or(Errno::NoEnt)?;
                cg.limits.cpu_weight = weight;
                cg.v1_shares = Some((shares, weight));
                Ok(())
            }
            _ => Err(Errno::Access),
        }
    }

    fn set_cgroup(&mut self, cgroup: &str, f: impl FnOnce(&mut CgroupLimits)) -> Result<(), Errno> {
        let cg = self.cgroups.get_mut(cgroup).ok_or(Errno::NoEnt)?;
        f(&mut cg.limits);
        Ok(())
    }

    /// `echo PID > cgroup.procs`: the process (by its pid in the writer's
    /// namespace; 0 is the writer) moves, its charges with it.
    fn move_to_cgroup(
        &mut self,
        writer: Pid,
        inner: Pid,
        cgroup: &str,
        events: &mut Vec<Event>,
    ) -> Result<(), Errno> {
        let target = if inner == 0 {
            writer
        } else {
            let own = self.processes.get(&writer).ok_or(Errno::Srch)?.own_pid_ns();
            self.processes
                .values()
                .find(|p| p.pid_in(own) == Some(inner) && p.state != ProcessState::Zombie)
                .map(|p| p.pid)
                .ok_or(Errno::Srch)?
        };
        if self.cgroups.get(cgroup).is_none() {
            return Err(Errno::NoEnt);
        }
        let (from, rss) = {
            let p = &self.processes[&target];
            (p.cgroup.clone(), p.rss)
        };
        if from == cgroup {
            return Ok(());
        }
        self.cgroups.charge(&from, |u| {
            u.pids_current = u.pids_current.saturating_sub(1);
            u.memory_current = u.memory_current.saturating_sub(rss);
        });
        self.cgroups.charge(cgroup, |u| {
            u.pids_current += 1;
            u.memory_current += rss;
            u.memory_peak = u.memory_peak.max(u.memory_current);
        });
        if let Some(p) = self.processes.get_mut(&target) {
            p.cgroup = cgroup.to_string();
        }
        // What it brought may put the cgroup over its limit.
        self.make_room(cgroup, 0, events);
        Ok(())
    }
}

/// The kernel's `memparse`: a number with an optional `K`, `M`, `G`, `T`
/// (either case) suffix.
fn memparse(text: &str) -> Result<u64, Errno> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 30),
        Some(b't' | b'T') => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().map_err(|_| Errno::Inval)?;
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or(Errno::Inval)
}
