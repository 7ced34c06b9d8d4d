//! The one planner: what a run request becomes, for both engines.
//!
//! `anchorage run` hands an engine a [`ContainerSpec`]. Before either
//! engine makes anything, [`plan`] checks the spec against the image's
//! config and the host's facts and settles everything that is not the
//! engine's own business: the name, the hostname, the command line, the
//! environment and its order, the working directory, the limits and the
//! volumes' kinds. The engines then do only their part (directories,
//! mounts, cgroups, or the simulator's model of them), so the same
//! request gives the same container, and the same mistake the same
//! words, on both.

use crate::cgroup::CgroupLimits;
use crate::container::{Container, ContainerSpec, ContainerState};
use crate::engine::EngineError;
use crate::namespace::NamespaceId;
use crate::tarball::ImageConfig;

/// The `PATH` a container gets when its image sets none (Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the planner needs to know of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// Its CPUs: no container may be given more.
    pub cpus: u32,
    /// Whether cgroups hold containers' limits here (a rootless host
    /// without a delegated cgroup has none).
    pub cgroups: bool,
}

/// Where a volume's files live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSource {
    /// A directory of the host, by its absolute path.
    HostPath(String),
    /// A volume the engine keeps, by name, made on first use.
    Named(String),
}

/// A volume, planned: its source and where it shows in the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedVolume {
    pub source: VolumeSource,
    pub target: String,
}

/// A container, as planned: what both engines make it of.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    pub name: String,
    pub hostname: String,
    /// The command line its init runs.
    pub argv: Vec<String>,
    /// `KEY=value` pairs, in the order its init gets them.
    pub env: Vec<String>,
    /// Its working directory, absolute (`/` when the image gives none).
    pub cwd: String,
    /// The limits its cgroup gets (none where the host has no cgroups).
    pub limits: CgroupLimits,
    pub volumes: Vec<PlannedVolume>,
}

impl RunPlan {
    /// The container this plan makes, as just created from `spec`: its
    /// id, image id, cgroup and namespaces are the engine's.
    pub fn container(
        &self,
        spec: &ContainerSpec,
        id: &str,
        image_id: &str,
        cgroup: String,
        namespaces: Vec<NamespaceId>,
        created_ms: u64,
    ) -> Container {
        Container {
            id: id.to_string(),
            name: self.name.clone(),
            image: spec.image.clone(),
            image_id: image_id.to_string(),
            command: self.argv.clone(),
            hostname: self.hostname.clone(),
            env: self.env.clone(),
            volumes: spec.volumes.clone(),
            state: ContainerState::Created,
            init_pid: None,
            cgroup,
            namespaces,
            limits: self.limits,
            created_ms,
            started_ms: None,
            finished_ms: None,
            auto_remove: spec.auto_remove,
            writable_entries: 0,
            writable_bytes: 0,
            log: spec.log,
            security: spec.security,
            reason: None,
        }
    }
}

/// Why a host path cannot be a volume, as the engine that looked found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPathProblem {
    Missing,
    /// A symbolic link, and where it points if that could be read.
    Symlink(Option<String>),
    /// Inside the engine's own data: the directory it is in.
    InsideData(String),
}

/// The error for a host path that cannot be a volume, in the same words
/// on both engines.
pub fn host_path_error(given: &str, problem: HostPathProblem) -> EngineError {
    EngineError::InvalidSpec(match problem {
        HostPathProblem::Missing => format!(
            "the volume's host path {given} does not exist: make it first, or give a volume name instead"
        ),
        HostPathProblem::Symlink(target) => format!(
            "the volume's host path {given} is a symbolic link{}: give the path it points to",
            target.map(|t| format!(" (to {t})")).unwrap_or_default()
        ),
        HostPathProblem::InsideData(data) => format!(
            "the volume's host path {given} is inside anchorage's data directory {data}, which holds the images and every container's files: give a path outside it, or a volume name"
        ),
    })
}

/// What can be checked before the image is looked up: the spec itself,
/// its name against `names` (the containers'), and its limits against the
/// host. An engine asks this first, so a mistake is named before a
/// missing image is.
pub fn check(spec: &ContainerSpec, names: &[&str], host: HostFacts) -> Result<(), EngineError> {
    spec.validate()?;
    if let Some(name) = &spec.name
        && names.contains(&name.as_str())
    {
        return Err(EngineError::NameInUse(name.clone()));
    }
    if let Some(cpus) = spec.limits.cpu_max.cpus()
        && cpus > f64::from(host.cpus)
    {
        return Err(EngineError::InvalidSpec(format!(
            "--cpus {cpus}: the host has {} CPUs; give from 0.01 to {}",
            host.cpus, host.cpus
        )));
    }
    if !host.cgroups && spec.limits != CgroupLimits::default() {
        return Err(EngineError::Refused(
            "limits need cgroups, and this host gives them to root only: run anchorage as root (or without --memory, --pids-limit and --cpus)".into(),
        ));
    }
    Ok(())
}

/// Plans a container: `spec` run from an image whose config is `config`,
/// with the id `id`, on a host where `names` are the containers' names.
pub fn plan(
    spec: &ContainerSpec,
    config: &ImageConfig,
    id: &str,
    names: &[&str],
    host: HostFacts,
) -> Result<RunPlan, EngineError> {
    check(spec, names, host)?;
    let name = match &spec.name {
        Some(name) => name.clone(),
        None => crate::container::generate_name(names.len(), |n| names.contains(&n)),
    };
    let limits = if host.cgroups {
        spec.applied_limits(host.cpus)
    } else {
        spec.limits
    };
    let argv = config.command_line(&spec.command);
    if argv.is_empty() {
        return Err(EngineError::InvalidSpec(format!(
            "`{}` says nothing to run: give a command, as in `anchorage run {} sh -c 'echo hello'`",
            spec.image, spec.image
        )));
    }
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12.min(id.len())].to_string());
    let env = environment(&hostname, &config.env, &spec.env);
    // An image's working directory is absolute; a relative one is taken
    // from the root, and none is the root.
    let cwd = format!("/{}", config.working_dir.trim_start_matches('/'));
    let volumes = spec
        .volumes
        .iter()
        .map(|v| PlannedVolume {
            source: if v.is_host_path() {
                VolumeSource::HostPath(v.source.clone())
            } else {
                VolumeSource::Named(v.source.clone())
            },
            target: v.target.clone(),
        })
        .collect();
    Ok(RunPlan {
        name,
        hostname,
        argv,
        env,
        cwd,
        limits,
        volumes,
    })
}

/// A container's environment, in Docker's order: `PATH` (the default
/// unless the image sets one) and `HOSTNAME` first, then the image's
/// variables, then those given; a variable set again keeps its place and
/// takes the later value.
fn environment(hostname: &str, image: &[String], given: &[String]) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    for pair in image.iter().chain(given) {
        let key = pair.split('=').next().unwrap_or_default();
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(slot) => *slot = pair.clone(),
            None => env.push(pair.clone()),
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(env: &[&str], cmd: &[&str]) -> ImageConfig {
        ImageConfig {
            entrypoint: vec![],
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|s| s.to_string()).collect(),
            working_dir: String::new(),
        }
    }

    const HOST: HostFacts = HostFacts {
        cpus: 2,
        cgroups: true,
    };
    const ID: &str = "0123456789abcdef0123";

    #[test]
    fn environment_goes_in_dockers_order() {
        let mut spec = ContainerSpec::new("workshop");
        spec.env = vec!["GREETING=ahoy".into(), "PATH=/opt/bin".into()];
        let plan = plan(
            &spec,
            &config(&["PATH=/bin", "LANG=C"], &["sh"]),
            ID,
            &[],
            HOST,
        )
        .unwrap();
        assert_eq!(
            plan.env,
            [
                "PATH=/opt/bin",
                "HOSTNAME=0123456789ab",
                "LANG=C",
                "GREETING=ahoy"
            ]
        );
        assert_eq!(plan.hostname, "0123456789ab");
        assert_eq!(plan.cwd, "/");
    }

    #[test]
    fn the_default_path_where_the_image_has_none() {
        let spec = ContainerSpec::new("workshop");
        let plan = plan(&spec, &config(&[], &["sh"]), ID, &[], HOST).unwrap();
        assert_eq!(plan.env[0], format!("PATH={DEFAULT_PATH}"));
    }

    #[test]
    fn names_are_checked_and_made() {
        let mut spec = ContainerSpec::new("workshop");
        let cfg = config(&[], &["sh"]);
        let made = plan(&spec, &cfg, ID, &["calm_harbor"], HOST).unwrap();
        assert_ne!(made.name, "calm_harbor");
        spec.name = Some("calm_harbor".into());
        assert_eq!(
            plan(&spec, &cfg, ID, &["calm_harbor"], HOST).unwrap_err(),
            EngineError::NameInUse("calm_harbor".into())
        );
    }

    #[test]
    fn mistakes_get_one_message() {
        let mut spec = ContainerSpec::new("scratch");
        let err = plan(&spec, &config(&[], &[]), ID, &[], HOST).unwrap_err();
        assert!(err.to_string().contains("says nothing to run"), "{err}");
        spec.command = vec!["true".into()];
        spec.limits.cpu_max = crate::cgroup::CpuMax::from_cpus(3.0).unwrap();
        let err = plan(&spec, &config(&[], &[]), ID, &[], HOST).unwrap_err();
        assert!(err.to_string().contains("the host has 2 CPUs"), "{err}");
        let rootless = HostFacts {
            cpus: 2,
            cgroups: false,
        };
        spec.limits = CgroupLimits::default();
        spec.limits.pids_max = Some(10);
        let err = plan(&spec, &config(&[], &[]), ID, &[], rootless).unwrap_err();
        assert!(err.to_string().contains("limits need cgroups"), "{err}");
    }

    #[test]
    fn limits_get_their_defaults_only_where_cgroups_hold_them() {
        let spec = ContainerSpec::new("workshop");
        let cfg = config(&[], &["sh"]);
        let with = plan(&spec, &cfg, ID, &[], HOST).unwrap();
        assert_eq!(
            with.limits.pids_max,
            Some(crate::container::DEFAULT_PIDS_LIMIT)
        );
        let without = HostFacts {
            cpus: 2,
            cgroups: false,
        };
        assert_eq!(
            plan(&spec, &cfg, ID, &[], without).unwrap().limits,
            CgroupLimits::default()
        );
    }

    #[test]
    fn volumes_are_sorted_by_kind() {
        let mut spec = ContainerSpec::new("workshop");
        spec.volumes = vec![
            crate::container::VolumeMount::parse("data:/data").unwrap(),
            crate::container::VolumeMount::parse("/srv/www:/www").unwrap(),
        ];
        let plan = plan(&spec, &config(&[], &["sh"]), ID, &[], HOST).unwrap();
        assert_eq!(
            plan.volumes,
            [
                PlannedVolume {
                    source: VolumeSource::Named("data".into()),
                    target: "/data".into()
                },
                PlannedVolume {
                    source: VolumeSource::HostPath("/srv/www".into()),
                    target: "/www".into()
                },
            ]
        );
    }
}
