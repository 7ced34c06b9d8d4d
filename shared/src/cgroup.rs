//! Cgroups: the fourth noun. What a process may use (memory, pids, CPU time)
//! is decided by the cgroup that controls it.
//!
//! The model speaks cgroup v2 (`memory.max`, `pids.max`, `cpu.max`,
//! `cpu.weight`); [`v1_file_name`] gives the v1 name where a lesson needs it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The default CFS period, in microseconds (`cpu.max`'s second field).
pub const DEFAULT_CPU_PERIOD_USEC: u64 = 100_000;
/// The default `cpu.weight`.
pub const DEFAULT_CPU_WEIGHT: u32 = 100;

/// v1's `cpu.shares` for a `cpu.weight`: proportional, so the default
/// weight (100) is the default share (1024); at least 2, v1's least.
pub fn v1_shares(weight: u32) -> u64 {
    (u64::from(weight) * 1024 / u64::from(DEFAULT_CPU_WEIGHT)).max(2)
}

/// The `cpu.weight` a v1 `cpu.shares` stands for (the inverse of
/// [`v1_shares`], within the weight's 1 to 10000).
pub fn weight_for_v1_shares(shares: u64) -> u32 {
    (shares * u64::from(DEFAULT_CPU_WEIGHT) / 1024).clamp(1, 10_000) as u32
}

/// `cpu.max`: at most `quota_usec` of CPU time in every `period_usec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuMax {
    /// `None` is `max`: no quota.
    pub quota_usec: Option<u64>,
    pub period_usec: u64,
}

impl CpuMax {
    /// The quota for a number of CPUs, as `--cpus 0.5` asks for.
    pub fn from_cpus(cpus: f64) -> Result<CpuMax, LimitError> {
        if !cpus.is_finite() || cpus <= 0.0 || cpus > 1024.0 {
            return Err(LimitError::Cpus(cpus.to_string()));
        }
        let quota = (cpus * DEFAULT_CPU_PERIOD_USEC as f64).round() as u64;
        Ok(CpuMax {
            quota_usec: Some(quota.max(1000)),
            period_usec: DEFAULT_CPU_PERIOD_USEC,
        })
    }

    /// The number of CPUs this quota allows, if it has one.
    pub fn cpus(&self) -> Option<f64> {
        self.quota_usec
            .map(|quota| quota as f64 / self.period_usec as f64)
    }
}

impl Default for CpuMax {
    fn default() -> Self {
        CpuMax {
            quota_usec: None,
            period_usec: DEFAULT_CPU_PERIOD_USEC,
        }
    }
}

impl fmt::Display for CpuMax {
    /// As the `cpu.max` file reads: `max 100000` or `50000 100000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.quota_usec {
            Some(quota) => write!(f, "{quota} {}", self.period_usec),
            None => write!(f, "max {}", self.period_usec),
        }
    }
}

/// The limits a cgroup enforces. `None` is `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// `memory.max`, in bytes.
    pub memory_max: Option<u64>,
    /// `pids.max`.
    pub pids_max: Option<u64>,
    /// `cpu.max`.
    pub cpu_max: CpuMax,
    /// `cpu.weight`, from 1 to 10000.
    pub cpu_weight: u32,
}

impl Default for CgroupLimits {
    fn default() -> Self {
        CgroupLimits {
            memory_max: None,
            pids_max: None,
            cpu_max: CpuMax::default(),
            cpu_weight: DEFAULT_CPU_WEIGHT,
        }
    }
}

/// The largest `memory.max` taken: 16 TiB.
pub const MAX_MEMORY_BYTES: u64 = 16 << 40;
/// The most `pids.max` can be: the kernel's `PID_MAX_LIMIT`.
pub const MAX_PIDS: u64 = 1 << 22;
/// The most CPUs a quota may give.
pub const MAX_CPUS: f64 = 1024.0;
/// `cpu.max`'s period, as the kernel takes it: 1 ms to 1 s.
pub const CPU_PERIOD_RANGE_USEC: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;
/// `cpu.weight`, as the kernel takes it.
pub const CPU_WEIGHT_RANGE: std::ops::RangeInclusive<u32> = 1..=10_000;

impl CgroupLimits {
    /// Whether every limit is within the range the kernel and the
    /// documentation give; the error names the range.
    pub fn validate(&self) -> Result<(), LimitError> {
        if let Some(bytes) = self.memory_max
            && !(crate::container::MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&bytes)
        {
            return Err(LimitError::MemoryRange(bytes));
        }
        if let Some(pids) = self.pids_max
            && !(1..=MAX_PIDS).contains(&pids)
        {
            return Err(LimitError::PidsRange(pids));
        }
        let period = self.cpu_max.period_usec;
        let quota_ok = self
            .cpu_max
            .quota_usec
            .is_none_or(|quota| quota >= 1000 && quota as f64 <= MAX_CPUS * period as f64);
        if !CPU_PERIOD_RANGE_USEC.contains(&period) || !quota_ok {
            return Err(LimitError::CpuRange(self.cpu_max.to_string()));
        }
        if !CPU_WEIGHT_RANGE.contains(&self.cpu_weight) {
            return Err(LimitError::WeightRange(self.cpu_weight));
        }
        Ok(())
    }
}

/// What a cgroup has used, as its interface files report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupUsage {
    /// `memory.current`, in bytes.
    pub memory_current: u64,
    /// `memory.peak`, in bytes.
    pub memory_peak: u64,
    /// `pids.current`.
    pub pids_current: u64,
    /// `pids.peak`: the most there have been (0 where the kernel has no
    /// `pids.peak`).
    #[serde(default)]
    pub pids_peak: u64,
    /// `cpu.stat` `usage_usec`.
    pub cpu_usage_usec: u64,
    /// `cpu.stat` `nr_periods`.
    pub nr_periods: u64,
    /// `cpu.stat` `nr_throttled`.
    pub nr_throttled: u64,
    /// `cpu.stat` `throttled_usec`.
    pub throttled_usec: u64,
    /// `memory.events` `max`: times usage was about to go over `memory.max`.
    #[serde(default)]
    pub memory_events_max: u64,
    /// `memory.events` `oom`: times the limit was hit and reclaim failed.
    pub oom: u64,
    /// `memory.events` `oom_kill`: processes the OOM killer killed here.
    pub oom_kill: u64,
    /// `pids.events` `max`: forks refused at `pids.max`.
    pub pids_events_max: u64,
}

/// One cgroup in the hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// Its path from the root of the hierarchy, `/` for the root.
    pub path: String,
    pub limits: CgroupLimits,
    pub usage: CgroupUsage,
}

/// A limit that cannot be set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "`{0}` is not a memory size: write a number with an optional unit, such as 64m, 512k, 1g or 1048576"
    )]
    Size(String),
    #[error("`{0}` is not a CPU count: write a positive number of CPUs such as 0.5 or 2")]
    Cpus(String),
    #[error("`{0}` is not a pids limit: write a positive whole number such as 10, or `max`")]
    Pids(String),
    #[error(
        "a memory limit of {0} bytes is out of range: give 6 MiB to 16 TiB (6m to 16t), or none"
    )]
    MemoryRange(u64),
    #[error("a pids limit of {0} is out of range: give 1 to 4194304, or none (max)")]
    PidsRange(u64),
    #[error(
        "cpu.max `{0}` is out of range: the quota is at least 1000 µs and at most 1024 CPUs' worth, in a period of 1000 to 1000000 µs"
    )]
    CpuRange(String),
    #[error("a cpu.weight of {0} is out of range: give 1 to 10000 (100 is the default share)")]
    WeightRange(u32),
}

/// Parses a size the way `docker run --memory` does: bytes, or a number with
/// a `b`, `k`, `m`, `g` or `t` unit (binary multiples, case-insensitive).
pub fn parse_size(text: &str) -> Result<u64, LimitError> {
    let err = || LimitError::Size(text.to_string());
    let trimmed = text.trim().to_ascii_lowercase();
    let trimmed = trimmed
        .strip_suffix("ib")
        .or_else(|| trimmed.strip_suffix('b').filter(|t| !t.is_empty()))
        .unwrap_or(&trimmed);
    let (number, shift) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 40),
        Some(c) if c.is_ascii_digit() => (trimmed, 0),
        _ => return Err(err()),
    };
    let value: f64 = number.trim().parse().map_err(|_| err())?;
    if !value.is_finite() || value <= 0.0 {
        return Err(err());
    }
    let bytes = value * (1u64 << shift) as f64;
    if bytes >= u64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as u64)
}

/// Parses `--pids-limit`: a positive whole number, or `max` (`-1` too, as
/// Docker accepts) for no limit.
pub fn parse_pids_limit(text: &str) -> Result<Option<u64>, LimitError> {
    match text.trim() {
        "max" | "-1" => Ok(None),
        other => match other.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(LimitError::Pids(text.to_string())),
        },
    }
}

/// Formats a byte count the way people read it: `64MiB`, `1.5GiB`, `512B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{}{}", value as u64, UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// The cgroup v1 file that holds what a v2 file holds, for lessons that show
/// both layouts. `None` where v1 has no counterpart.
pub fn v1_file_name(v2: &str) -> Option<&'static str> {
    Some(match v2 {
        "memory.max" => "memory/memory.limit_in_bytes",
        "memory.current" => "memory/memory.usage_in_bytes",
        "memory.peak" => "memory/memory.max_usage_in_bytes",
        "memory.events" => "memory/memory.oom_control",
        "pids.max" => "pids/pids.max",
        "pids.current" => "pids/pids.current",
        "cpu.max" => "cpu,cpuacct/cpu.cfs_quota_us",
        "cpu.weight" => "cpu,cpuacct/cpu.shares",
        "cpu.stat" => "cpu,cpuacct/cpu.stat",
        "cgroup.procs" => "cgroup.procs",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("100b"), Ok(100));
        for bad in ["", "m", "-1m", "64x", "lots", "0", "nan"] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.to_string().contains("64m"), "{bad}: {err}");
        }
    }

    #[test]
    fn sizes_format_for_people() {
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(3 << 29), "1.5GiB");
        assert_eq!(format_size(512), "512B");
    }

    #[test]
    fn cpus_become_a_quota_per_period() {
        let max = CpuMax::from_cpus(0.5).unwrap();
        assert_eq!(max.to_string(), "50000 100000");
        assert_eq!(max.cpus(), Some(0.5));
        assert_eq!(CpuMax::default().to_string(), "max 100000");
        assert!(CpuMax::from_cpus(0.0).is_err());
        assert!(CpuMax::from_cpus(f64::NAN).is_err());
    }

    #[test]
    fn limits_out_of_range_are_refused_with_the_range() {
        assert!(CgroupLimits::default().validate().is_ok());
        let bad = [
            CgroupLimits {
                memory_max: Some(u64::MAX),
                ..CgroupLimits::default()
            },
            CgroupLimits {
                memory_max: Some(1 << 20),
                ..CgroupLimits::default()
            },
            CgroupLimits {
                pids_max: Some(0),
                ..CgroupLimits::default()
            },
            CgroupLimits {
                cpu_weight: 0,
                ..CgroupLimits::default()
            },
            CgroupLimits {
                cpu_weight: 1_000_000_000,
                ..CgroupLimits::default()
            },
            CgroupLimits {
                cpu_max: CpuMax {
                    quota_usec: Some(1),
                    period_usec: 100_000,
                },
                ..CgroupLimits::default()
            },
            CgroupLimits {
                cpu_max: CpuMax {
                    quota_usec: None,
                    period_usec: 0,
                },
                ..CgroupLimits::default()
            },
        ];
        for limits in bad {
            let err = limits.validate().unwrap_err().to_string();
            assert!(err.contains("range"), "{limits:?}: {err}");
        }
    }

    #[test]
    fn pids_limits_accept_max() {
        assert_eq!(parse_pids_limit("10"), Ok(Some(10)));
        assert_eq!(parse_pids_limit("max"), Ok(None));
        assert!(parse_pids_limit("0").is_err());
        assert!(parse_pids_limit("ten").is_err());
    }
}
