//! Containers: a process tree born from an image, anchored to namespaces,
//! controlled by a cgroup. This module holds what a user asks for (a
//! [`ContainerSpec`]) and what the engine reports ([`Container`]).

use serde::{Deserialize, Serialize};

use crate::cgroup::CgroupLimits;
use crate::namespace::NamespaceId;
use crate::process::{ExitStatus, Pid};

/// A host path (or named volume) mounted into the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMount {
    /// A host path (`/srv/data`) or a volume name (`data`).
    pub source: String,
    /// Where it appears inside the container.
    pub target: String,
}

impl VolumeMount {
    /// Parses `-v SOURCE:TARGET`.
    pub fn parse(text: &str) -> Result<VolumeMount, SpecError> {
        match text.split_once(':') {
            Some((source, target))
                if !source.is_empty() && target.starts_with('/') && !target.contains(':') =>
            {
                Ok(VolumeMount {
                    source: source.to_string(),
                    target: target.to_string(),
                })
            }
            _ => Err(SpecError::Volume(text.to_string())),
        }
    }

    /// Whether the source is a path on the host (else a volume's name).
    pub fn is_host_path(&self) -> bool {
        self.source.starts_with('/')
    }

    /// A named volume's name follows Docker's rule,
    /// `[A-Za-z0-9][A-Za-z0-9_.-]*`; a host path is absolute; the target
    /// is an absolute path with no `..`.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !self.is_host_path() && !is_plain_name(&self.source, 255) {
            return Err(SpecError::VolumeName(self.source.clone()));
        }
        if self.is_host_path() && self.source.split('/').any(|part| part == "..") {
            return Err(SpecError::VolumePath(self.source.clone()));
        }
        if !self.target.starts_with('/') || self.target.split('/').any(|part| part == "..") {
            return Err(SpecError::Volume(format!(
                "{}:{}",
                self.source, self.target
            )));
        }
        Ok(())
    }
}

/// Docker's rule for names: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most `max`
/// bytes.
fn is_plain_name(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok && name.len() <= max && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// How much of a container's console is kept, as Docker's `local` log
/// driver keeps it: files of at most `max_size` bytes, at most `max_file`
/// of them; the oldest goes when a new one starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    pub max_size: u64,
    pub max_file: u32,
}

impl LogOptions {
    /// The smallest file: a line of 16 KiB (the longest kept whole) and
    /// more.
    pub const MIN_SIZE: u64 = 64 << 10;
    pub const MAX_FILES: u32 = 100;

    /// The most bytes kept in all.
    pub fn total(&self) -> u64 {
        self.max_size.saturating_mul(u64::from(self.max_file))
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        if self.max_size < Self::MIN_SIZE || !(1..=Self::MAX_FILES).contains(&self.max_file) {
            return Err(SpecError::LogOpt(format!(
                "max-size={},max-file={}",
                self.max_size, self.max_file
            )));
        }
        Ok(())
    }

    /// Applies `--log-opt KEY=VALUE[,KEY=VALUE...]` (`max-size`, `max-file`).
    pub fn set(&mut self, text: &str) -> Result<(), SpecError> {
        for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
            let bad = || SpecError::LogOpt(pair.to_string());
            let (key, value) = pair.split_once('=').ok_or_else(bad)?;
            match key.trim() {
                "max-size" => {
                    self.max_size = crate::cgroup::parse_size(value).map_err(|_| bad())?;
                }
                "max-file" => self.max_file = value.trim().parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        self.validate()
    }
}

impl Default for LogOptions {
    /// Docker's `local` driver: 20 MiB, 5 files.
    fn default() -> Self {
        LogOptions {
            max_size: 20 << 20,
            max_file: 5,
        }
    }
}

/// The system calls a container may make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seccomp {
    /// Docker's default profile: an allow-list, with arguments checked
    /// (no new namespaces, no keyring, no `mount`...).
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`).
    Unconfined,
}

/// What confines a container besides its namespaces and cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityOptions {
    pub seccomp: Seccomp,
}

impl SecurityOptions {
    /// Applies `--security-opt KEY=VALUE` (`seccomp=unconfined|default`).
    pub fn set(&mut self, text: &str) -> Result<(), SpecError> {
        let bad = || SpecError::SecurityOpt(text.to_string());
        let (key, value) = text.split_once(['=', ':']).ok_or_else(bad)?;
        match (key.trim(), value.trim()) {
            ("seccomp", "unconfined") => self.seccomp = Seccomp::Unconfined,
            ("seccomp", "default" | "builtin") => self.seccomp = Seccomp::Default,
            _ => return Err(bad()),
        }
        Ok(())
    }
}

/// What `anchorage run` asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// A name; the engine makes one up when it is `None`.
    pub name: Option<String>,
    /// An image name or ID.
    pub image: String,
    /// The command; empty runs the image's default.
    pub command: Vec<String>,
    /// The hostname; defaults to the short container ID.
    pub hostname: Option<String>,
    /// `KEY=value` pairs added to the image's environment.
    pub env: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    pub limits: CgroupLimits,
    /// Remove the container when its init exits (`--rm`).
    pub auto_remove: bool,
    /// How much of its console is kept (`--log-opt`).
    #[serde(default)]
    pub log: LogOptions,
    /// What confines it besides namespaces and cgroups (`--security-opt`).
    #[serde(default)]
    pub security: SecurityOptions,
    /// Limits asked to be none at all (`--pids-limit -1`, `--cpus max`):
    /// a container that gives none gets the defaults otherwise.
    #[serde(default)]
    pub unlimited: Unlimited,
}

/// The limits a container asked to have none of, rather than the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unlimited {
    #[serde(default)]
    pub pids: bool,
    #[serde(default)]
    pub cpus: bool,
}

impl ContainerSpec {
    /// A spec for an image with its default command and no limits.
    pub fn new(image: &str) -> ContainerSpec {
        ContainerSpec {
            name: None,
            image: image.to_string(),
            command: Vec::new(),
            hostname: None,
            env: Vec::new(),
            volumes: Vec::new(),
            limits: CgroupLimits::default(),
            auto_remove: false,
            log: LogOptions::default(),
            security: SecurityOptions::default(),
            unlimited: Unlimited::default(),
        }
    }

    /// The limits a container gets where cgroups hold them, on a host of
    /// `host_cpus`: those asked for; [`DEFAULT_PIDS_LIMIT`] when no pids
    /// limit was (a fork bomb must not take the host's every pid); and
    /// half the host's CPUs (at least one) when no CPU limit was (a
    /// thousand processes spinning must leave the host a CPU).
    pub fn applied_limits(&self, host_cpus: u32) -> CgroupLimits {
        let mut limits = self.limits;
        if limits.pids_max.is_none() && !self.unlimited.pids {
            limits.pids_max = Some(DEFAULT_PIDS_LIMIT);
        }
        if limits.cpu_max.quota_usec.is_none() && !self.unlimited.cpus {
            limits.cpu_max = default_cpus(host_cpus);
        }
        limits
    }

    /// Checks what can be checked without an engine.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        if self.image.trim().is_empty() {
            return Err(SpecError::Image);
        }
        if let Some(hostname) = &self.hostname {
            let ok = !hostname.is_empty()
                && hostname.len() <= 64
                && hostname
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                return Err(SpecError::Hostname(hostname.clone()));
            }
        }
        self.limits.validate().map_err(SpecError::Limit)?;
        self.log.validate()?;
        for volume in &self.volumes {
            volume.validate()?;
        }
        for pair in &self.env {
            if !pair.contains('=') || pair.starts_with('=') {
                return Err(SpecError::Env(pair.clone()));
            }
        }
        Ok(())
    }
}

/// The pids limit of a container that asks for none (podman gives 2048;
/// a workshop host needs fewer): `--pids-limit -1` asks for none at all.
pub const DEFAULT_PIDS_LIMIT: u64 = 1024;

/// The CPU limit of a container that asks for none: half the host's
/// CPUs, at least one (`--cpus max` asks for none at all).
pub fn default_cpus(host_cpus: u32) -> crate::cgroup::CpuMax {
    let cpus = (f64::from(host_cpus) / 2.0).max(1.0);
    crate::cgroup::CpuMax::from_cpus(cpus).expect("a CPU or more is a quota")
}

/// The smallest memory limit a container may have (Docker's minimum).
pub const MIN_MEMORY_BYTES: u64 = 6 << 20;

/// Container names follow Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
/// A name for a container that was given none, such as `calm_harbor`:
/// the `seed`th of the combinations, or the next one no container
/// `taken` already.
pub fn generate_name(seed: usize, taken: impl Fn(&str) -> bool) -> String {
    const ADJECTIVES: [&str; 8] = [
        "calm", "brave", "quiet", "steady", "bright", "swift", "gentle", "bold",
    ];
    const NOUNS: [&str; 8] = [
        "harbor", "anchor", "keel", "buoy", "tide", "mast", "hull", "quay",
    ];
    let mut n = seed;
    loop {
        let name = format!(
            "{}_{}",
            ADJECTIVES[n % ADJECTIVES.len()],
            NOUNS[(n / ADJECTIVES.len()) % NOUNS.len()]
        );
        let name = if n >= ADJECTIVES.len() * NOUNS.len() {
            format!("{name}_{n}")
        } else {
            name
        };
        if !taken(&name) {
            return name;
        }
        n += 1;
    }
}

pub fn validate_name(name: &str) -> Result<(), SpecError> {
    if is_plain_name(name, 128) {
        Ok(())
    } else {
        Err(SpecError::Name(name.to_string()))
    }
}

/// A spec that cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "`{0}` is not a valid container name: start with a letter or digit, then use letters, digits, `_`, `.` or `-`"
    )]
    Name(String),
    #[error("no image given: name an image, such as `workshop`")]
    Image,
    #[error("`{0}` is not a valid hostname: use up to 64 letters, digits, `-` and `.`")]
    Hostname(String),
    #[error(transparent)]
    Limit(crate::cgroup::LimitError),
    #[error("`{0}` is not an environment variable: write KEY=value")]
    Env(String),
    #[error(
        "`{0}` is not a volume: write SOURCE:TARGET, with an absolute TARGET such as data:/data"
    )]
    Volume(String),
    #[error(
        "`{0}` is not a volume name: a name starts with a letter or digit, then letters, digits, `_`, `.` or `-` (a host path starts with `/`)"
    )]
    VolumeName(String),
    #[error("the host path `{0}` holds `..`: give the path itself, without `..`")]
    VolumePath(String),
    #[error(
        "`{0}` is not a log option: give max-size=SIZE (64k or more, such as 20m) and max-file=N (1 to 100), such as --log-opt max-size=10m,max-file=3"
    )]
    LogOpt(String),
    #[error(
        "`{0}` is not a security option: the one taken is seccomp=unconfined (no system call filter) or seccomp=default"
    )]
    SecurityOpt(String),
}

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContainerState {
    /// Its root and namespaces are ready; no process runs yet.
    Created,
    /// Its init process runs.
    Running,
    /// Its init process has exited.
    Exited {
        status: ExitStatus,
        /// Whether the OOM killer killed a process of its cgroup.
        oom_killed: bool,
    },
}

impl ContainerState {
    /// One word for `anchorage ps` and the UI.
    pub fn label(&self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Exited { .. } => "exited",
        }
    }
}

/// A container as the engine reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// 64 hex digits; the first 12 are the short ID.
    pub id: String,
    pub name: String,
    /// The image name it was created from, as given.
    pub image: String,
    /// The image's ID.
    pub image_id: String,
    /// The command line of its init process.
    pub command: Vec<String>,
    pub hostname: String,
    pub env: Vec<String>,
    pub volumes: Vec<VolumeMount>,
    pub state: ContainerState,
    /// Its init process's pid on the host, while it runs.
    pub init_pid: Option<Pid>,
    /// Its cgroup's path.
    pub cgroup: String,
    /// The namespaces its init was anchored to.
    pub namespaces: Vec<NamespaceId>,
    pub limits: CgroupLimits,
    /// When it was created, in milliseconds of the engine's clock.
    pub created_ms: u64,
    /// When its init started and when it exited, on the same clock.
    #[serde(default)]
    pub started_ms: Option<u64>,
    #[serde(default)]
    pub finished_ms: Option<u64>,
    pub auto_remove: bool,
    /// What its writable layer holds: entries (whiteouts included) and
    /// bytes in files. It goes when the container is removed.
    #[serde(default)]
    pub writable_entries: u64,
    #[serde(default)]
    pub writable_bytes: u64,
    /// How much of its console is kept.
    #[serde(default)]
    pub log: LogOptions,
    #[serde(default)]
    pub security: SecurityOptions,
    /// Why it ended or never started, where its exit status does not say
    /// (its supervisor was killed, its root could not be mounted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Container {
    /// The 12-digit short ID.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_parse_source_and_absolute_target() {
        let volume = VolumeMount::parse("data:/data").unwrap();
        assert_eq!(volume.source, "data");
        assert_eq!(volume.target, "/data");
        for bad in ["data", "data:relative", ":/data", "a:/b:ro"] {
            assert!(VolumeMount::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specs_reject_bad_names_hostnames_and_env() {
        let mut spec = ContainerSpec::new("workshop");
        assert!(spec.validate().is_ok());
        spec.name = Some("-web".into());
        assert!(matches!(spec.validate(), Err(SpecError::Name(_))));
        spec.name = Some("web_1".into());
        spec.hostname = Some("has space".into());
        assert!(matches!(spec.validate(), Err(SpecError::Hostname(_))));
        spec.hostname = None;
        spec.env = vec!["NOVALUE".into()];
        assert!(matches!(spec.validate(), Err(SpecError::Env(_))));
    }
}
