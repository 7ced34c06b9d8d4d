//! The cgroup v2 interface files: the model's own names.

use std::path::Path;

use anchorage_shared::cgroup::{CgroupLimits, CgroupUsage};

use super::{CgroupError, keyed, number, read, read_optional, write};

/// The controllers a container's cgroup needs.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// Lets the children of `dir` use the controllers (`cgroup.subtree_control`),
/// the ones `dir` itself has.
pub(super) fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available = read_optional(&dir.join("cgroup.controllers"))?.unwrap_or_default();
    let enabled = read_optional(&dir.join("cgroup.subtree_control"))?.unwrap_or_default();
    let wanted: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

fn max_or<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "max".to_string(), |v| v.to_string())
}

pub(super) fn apply(dir: &Path, limits: &CgroupLimits) -> Result<(), CgroupError> {
    write(&dir.join("memory.max"), &max_or(limits.memory_max))?;
    // The limit is the container's memory, not memory plus swap: without
    // this a hog would swap instead of meeting the OOM killer.
    if dir.join("memory.swap.max").exists() {
        write(
            &dir.join("memory.swap.max"),
            if limits.memory_max.is_some() {
                "0"
            } else {
                "max"
            },
        )?;
    }
    write(&dir.join("pids.max"), &max_or(limits.pids_max))?;
    write(&dir.join("cpu.max"), &limits.cpu_max.to_string())?;
    write(&dir.join("cpu.weight"), &limits.cpu_weight.to_string())?;
    Ok(())
}

pub(super) fn usage(dir: &Path) -> Result<CgroupUsage, CgroupError> {
    let cpu = read(&dir.join("cpu.stat"))?;
    let events = read_optional(&dir.join("memory.events"))?.unwrap_or_default();
    let pids_events = read_optional(&dir.join("pids.events"))?.unwrap_or_default();
    let current = number(&read(&dir.join("memory.current"))?);
    Ok(CgroupUsage {
        memory_current: current,
        // memory.peak exists from Linux 5.19.
        memory_peak: read_optional(&dir.join("memory.peak"))?.map_or(current, |t| number(&t)),
        pids_current: number(&read(&dir.join("pids.current"))?),
        pids_peak: read_optional(&dir.join("pids.peak"))?.map_or(0, |t| number(&t)),
        cpu_usage_usec: keyed(&cpu, "usage_usec"),
        nr_periods: keyed(&cpu, "nr_periods"),
        nr_throttled: keyed(&cpu, "nr_throttled"),
        throttled_usec: keyed(&cpu, "throttled_usec"),
        memory_events_max: keyed(&events, "max"),
        oom: keyed(&events, "oom"),
        oom_kill: keyed(&events, "oom_kill"),
        pids_events_max: keyed(&pids_events, "max"),
    })
}
