//! The cgroup v1 interface files: the model's v2 limits written under
//! their v1 names, and v1 usage read back in v2 terms.

use anchorage_shared::cgroup::{CgroupLimits, CgroupUsage};

use super::{Cgroup, CgroupError, Controller, keyed, number, read, read_optional, write};

pub(super) use anchorage_shared::cgroup::v1_shares as shares;

pub(super) fn apply(cgroup: &Cgroup, limits: &CgroupLimits) -> Result<(), CgroupError> {
    if let Some(dir) = cgroup.v1_dir(Controller::Memory) {
        let limit = limits
            .memory_max
            .map_or_else(|| "-1".to_string(), |m| m.to_string());
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        // memory+swap may never be below memory: lift it first, then set
        // both to the limit, so the container cannot swap past it.
        if memsw.exists() {
            write(&memsw, "-1")?;
        }
        write(&dir.join("memory.limit_in_bytes"), &limit)?;
        if memsw.exists() {
            write(&memsw, &limit)?;
        }
    }
    if let Some(dir) = cgroup.v1_dir(Controller::Pids) {
        let max = limits
            .pids_max
            .map_or_else(|| "max".to_string(), |n| n.to_string());
        write(&dir.join("pids.max"), &max)?;
    }
    if let Some(dir) = cgroup.v1_dir(Controller::Cpu) {
        write(
            &dir.join("cpu.cfs_period_us"),
            &limits.cpu_max.period_usec.to_string(),
        )?;
        let quota = limits
            .cpu_max
            .quota_usec
            .map_or_else(|| "-1".to_string(), |q| q.to_string());
        write(&dir.join("cpu.cfs_quota_us"), &quota)?;
        write(
            &dir.join("cpu.shares"),
            &shares(limits.cpu_weight).to_string(),
        )?;
    }
    Ok(())
}

pub(super) fn usage(cgroup: &Cgroup) -> Result<CgroupUsage, CgroupError> {
    let mut usage = CgroupUsage::default();
    if let Some(dir) = cgroup.v1_dir(Controller::Memory) {
        usage.memory_current = number(&read(&dir.join("memory.usage_in_bytes"))?);
        usage.memory_peak = number(&read(&dir.join("memory.max_usage_in_bytes"))?);
        // failcnt counts the times usage hit the limit: v2's `max` event.
        usage.memory_events_max = number(&read(&dir.join("memory.failcnt"))?);
        // `oom_kill` is in memory.oom_control from Linux 4.13; v1 has no
        // separate count of OOM events, so each kill stands for one.
        let oom = read_optional(&dir.join("memory.oom_control"))?.unwrap_or_default();
        usage.oom_kill = keyed(&oom, "oom_kill");
        usage.oom = usage.oom_kill;
    }
    if let Some(dir) = cgroup.v1_dir(Controller::Pids) {
        usage.pids_current = number(&read(&dir.join("pids.current"))?);
        let events = read_optional(&dir.join("pids.events"))?.unwrap_or_default();
        usage.pids_events_max = keyed(&events, "max");
    }
    if let Some(dir) = cgroup.v1_dir(Controller::Cpuacct) {
        usage.cpu_usage_usec = number(&read(&dir.join("cpuacct.usage"))?) / 1000;
    }
    if let Some(dir) = cgroup.v1_dir(Controller::Cpu) {
        let stat = read(&dir.join("cpu.stat"))?;
        usage.nr_periods = keyed(&stat, "nr_periods");
        usage.nr_throttled = keyed(&stat, "nr_throttled");
        usage.throttled_usec = keyed(&stat, "throttled_time") / 1000;
    }
    Ok(usage)
}
