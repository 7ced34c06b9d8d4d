//! Making a container: the run request planned (`anchorage_shared::plan`),
//! then its directory, writable layer, volumes, cgroup and the records its
//! supervisor starts from.

use super::*;

/// 64 random hex digits.
fn new_id() -> String {
    let mut bytes = [0u8; 32];
    if fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let seed = shim::now_ms() ^ u64::from(std::process::id()) << 32;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 8) * 8)) as u8 ^ i as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl RealEngine {
    /// Makes a container: its directory, record, writable layer and
    /// cgroup; nothing runs yet.
    pub(super) fn create(
        &mut self,
        spec: ContainerSpec,
    ) -> Result<(PathBuf, Container), EngineError> {
        // One creation at a time in a data directory: names and id ranges
        // are chosen against what exists.
        let _lock = self.lock_containers()?;
        let all = self.load();
        let names: Vec<&str> = all.iter().map(|(_, c)| c.name.as_str()).collect();
        let host = plan::HostFacts {
            cpus: self.info.cpus,
            cgroups: self.layout.is_some(),
        };
        plan::check(&spec, &names, host)?;
        let image = self
            .store
            .resolve(&spec.image)
            .map_err(|_| EngineError::NoSuchImage(spec.image.clone()))?;
        let id = new_id();
        let plan = plan::plan(&spec, &image.image.config, &id, &names, host)?;

        let ids = self.container_ids()?;
        // The image's files belong to the ids it was unpacked for; a
        // container with ids of its own sees them shifted to its own.
        let owner = image.image.owner_offset;
        let shift = (!ids.rootless && !image.image.rootless && owner != ids.uid_first).then_some(
            crate::process::launch::Shift {
                from: owner,
                to: ids.uid_first,
                count: ids.count,
            },
        );
        let dir = self.containers_dir().join(&id);
        let result = (|| -> Result<(PathBuf, Container), EngineError> {
            for sub in ["", "upper", "work", "merged", "lower"] {
                fs::DirBuilder::new()
                    .mode(if sub.is_empty() { 0o700 } else { 0o755 })
                    .create(dir.join(sub))
                    .map_err(io_refused("make the container's directory"))?;
                if matches!(sub, "upper" | "work" | "merged") && !ids.rootless {
                    // Container root owns its writable layer (and so `/`).
                    lchown(dir.join(sub), Some(ids.uid_first), Some(ids.gid_first))
                        .map_err(io_refused("give the writable layer to container root"))?;
                }
            }
            // The root directory shows the image's time, not today's.
            if let Ok(modified) =
                fs::metadata(self.store.rootfs(&image.image)).and_then(|m| m.modified())
            {
                let _ = fs::File::open(dir.join("upper")).and_then(|f| f.set_modified(modified));
            }
            let mut volumes = Vec::new();
            for volume in &plan.volumes {
                let (source, named) = match &volume.source {
                    plan::VolumeSource::HostPath(given) => (self.host_path(given)?, false),
                    plan::VolumeSource::Named(name) => (self.named_volume(name)?, true),
                };
                volumes.push(Bind {
                    source,
                    target: volume.target.clone(),
                    shift: named && shift.is_some(),
                });
            }
            let cgroup_path = format!("/anchorage/{id}");
            let cgroup = match &self.layout {
                Some(layout) => {
                    let cgroup = Cgroup::create(layout, &cgroup_path)
                        .map_err(|e| EngineError::Refused(e.to_string()))?;
                    cgroup
                        .apply(&plan.limits)
                        .map_err(|e| EngineError::Refused(e.to_string()))?;
                    Some(cgroup_path.clone())
                }
                None => None,
            };
            for path in [&dir, &self.store.rootfs(&image.image)] {
                let text = path.display().to_string();
                if ids.rootless && text.contains([',', ':', '\n']) {
                    return Err(EngineError::Refused(format!(
                        "the path {text} holds `,` or `:`, which overlayfs options cannot carry: use a data directory without them (--data-dir)"
                    )));
                }
            }
            let launch_plan = Plan {
                lower: self.store.rootfs(&image.image),
                upper: dir.join("upper"),
                work: dir.join("work"),
                merged: dir.join("merged"),
                hostname: plan.hostname.clone(),
                volumes,
                argv: plan.argv.clone(),
                env: plan.env.clone(),
                cwd: plan.cwd.clone(),
                lower_mount: dir.join("lower"),
                seccomp: spec.security.seccomp,
                cgroupfs: cgroup::host_container_view(),
            };
            let launch = LaunchConfig {
                plan: launch_plan,
                ids,
                cgroup,
                auto_remove: spec.auto_remove,
                log: spec.log,
                shift,
            };
            write_atomically(
                &dir.join("launch.json"),
                &serde_json::to_vec_pretty(&launch).expect("configs always encode"),
            )
            .map_err(io_refused("write launch.json"))?;
            let container = plan.container(
                &spec,
                &id,
                &image.image.id.0,
                cgroup_path,
                Vec::new(),
                shim::now_ms(),
            );
            write_atomically(
                &dir.join("container.json"),
                &serde_json::to_vec_pretty(&container).expect("containers always encode"),
            )
            .map_err(io_refused("write container.json"))?;
            Ok((dir.clone(), container))
        })();
        if result.is_err() {
            self.discard(&dir, &format!("/anchorage/{id}"));
        }
        let (dir, container) = result?;
        self.follow.insert(container.id.clone(), Follow::default());
        Ok((dir, container))
    }

    /// Holds the data directory's containers still while one is made.
    pub(super) fn lock_containers(&self) -> Result<nix::fcntl::Flock<fs::File>, EngineError> {
        let path = self.containers_dir().join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_refused("open the containers' lock"))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, errno)| {
            EngineError::Refused(format!("lock {}: {}", path.display(), errno.desc()))
        })
    }

    /// The ids a new container maps: a range of its own after the store's
    /// (as root, with id-mapped mounts), else the store's.
    pub(super) fn container_ids(&self) -> Result<IdMapping, EngineError> {
        if !self.own_ids {
            return Ok(self.ids);
        }
        let used: Vec<u32> = self
            .load_all()
            .iter()
            .filter_map(|(dir, _)| {
                let bytes = fs::read(dir.join("launch.json")).ok()?;
                let launch: LaunchConfig = serde_json::from_slice(&bytes).ok()?;
                Some(launch.ids.uid_first)
            })
            .collect();
        let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
        let store = crate::namespace::IdRange {
            first: self.ids.uid_first,
            count: self.ids.count,
        };
        let accounts = idmap::accounts(&read("/etc/passwd"), &read("/etc/group"));
        let subuid = read("/etc/subuid");
        if !idmap::room_for_containers(store, &subuid) {
            return Ok(self.ids);
        }
        match idmap::container_range(store, &subuid, &read("/etc/subgid"), &accounts, &used) {
            Some(range) => Ok(IdMapping {
                uid_first: range.first,
                gid_first: range.first,
                count: range.count,
                rootless: false,
            }),
            // Never the store's range: its root would own every image.
            None => Err(EngineError::Refused(format!(
                "no id range is left for a new container ({} containers hold one): remove some (`anchorage rm`){}",
                used.len(),
                if subuid.lines().any(|l| l.starts_with("anchorage:")) {
                    ", or give the `anchorage` entry of /etc/subuid and /etc/subgid more ids"
                } else {
                    ""
                }
            ))),
        }
    }

    /// A volume's host path, checked: it exists, it is not a symbolic link
    /// (its parents may be), and it is outside the data directory (the
    /// image store and the other containers' files).
    pub(super) fn host_path(&self, given: &str) -> Result<PathBuf, EngineError> {
        let path = Path::new(given);
        let meta = fs::symlink_metadata(path)
            .map_err(|_| plan::host_path_error(given, HostPathProblem::Missing))?;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(path).ok().map(|t| t.display().to_string());
            return Err(plan::host_path_error(
                given,
                HostPathProblem::Symlink(target),
            ));
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let resolved = fs::canonicalize(parent)
            .map_err(io_refused("resolve the volume's host path"))?
            .join(path.file_name().unwrap_or_default());
        let data = fs::canonicalize(&self.data).unwrap_or_else(|_| self.data.clone());
        if resolved.starts_with(&data) {
            return Err(plan::host_path_error(
                given,
                HostPathProblem::InsideData(data.display().to_string()),
            ));
        }
        Ok(resolved)
    }

    /// A named volume's directory, made the first time: owned by the
    /// store's ids (mounted shifted to each container's), and never
    /// through a symbolic link.
    pub(super) fn named_volume(&self, name: &str) -> Result<PathBuf, EngineError> {
        // The real path, so the supervisor can open it with no link on
        // the way.
        let data = fs::canonicalize(&self.data).unwrap_or_else(|_| self.data.clone());
        let base = data.join("volumes");
        let path = base.join(name).join("_data");
        for dir in [base.clone(), base.join(name), path.clone()] {
            // Only root reaches the volumes: containers get theirs mounted.
            let mode = if dir == base { 0o700 } else { 0o755 };
            match fs::DirBuilder::new().mode(mode).create(&dir) {
                Ok(()) => {
                    if dir == path && !self.ids.rootless {
                        lchown(&dir, Some(self.ids.uid_first), Some(self.ids.gid_first))
                            .map_err(io_refused("give the volume to container root"))?;
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    if dir == base {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
                    }
                }
                Err(err) => return Err(io_refused("make the volume")(err)),
            }
            let meta = fs::symlink_metadata(&dir).map_err(io_refused("make the volume"))?;
            if !meta.is_dir() {
                return Err(EngineError::Refused(format!(
                    "{} is not a directory: remove it, and the volume is made again",
                    dir.display()
                )));
            }
        }
        Ok(path)
    }
}
