//! Removing a container: stopping it if asked (`rm -f`), waiting for its
//! end to be recorded within a bound, then its directory and cgroup.

use super::*;

impl RealEngine {
    /// Removes a container's directory and cgroup.
    pub(super) fn discard(&self, dir: &Path, cgroup_path: &str) {
        let cgroup = self.layout.as_ref().map(|l| Cgroup::open(l, cgroup_path));
        shim::remove_container(dir, cgroup.as_ref());
    }

    pub(super) fn signal(pid: u32, signal: Signal) -> Result<(), EngineError> {
        let real = nix::sys::signal::Signal::try_from(signal.number())
            .map_err(|_| EngineError::Refused(format!("SIG{} is not known here", signal.name())))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), real)
            .map_err(|e| EngineError::Refused(format!("kill pid {pid}: {}", e.desc())))
    }

    /// Waits at most `bound` for a container's supervisor to record its
    /// end (or to be gone with its init).
    pub(super) fn wait_exited(dir: &Path, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        loop {
            match shim::read_state(dir) {
                Some(state) if state.exit.is_some() => return true,
                Some(state) if !state.init_alive() && !state.supervisor_alive() => return true,
                None => return true,
                _ if Instant::now() >= deadline => return false,
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// How long a call may wait for a supervisor: on the terminal, long
    /// enough for any; in a server, whose engine thread serves everyone,
    /// a moment.
    pub(super) fn patience(&self) -> Duration {
        if self.waiting {
            Duration::from_secs(10)
        } else {
            Duration::from_millis(200)
        }
    }

    pub(super) fn remove(
        &mut self,
        id_or_name: &str,
        force: bool,
    ) -> Result<Vec<Event>, EngineError> {
        let (dir, record) = match self.find(id_or_name) {
            Ok(found) => found,
            Err(EngineError::NoSuchContainer(_))
                if force && self.damaged_dir(id_or_name).is_some() =>
            {
                // A container whose record is damaged: what runs of it is
                // killed (its supervisor, and the init with it), then its
                // cgroup and files go.
                let dir = self.containers_dir().join(id_or_name);
                if let Some(state) = shim::read_state(&dir) {
                    for (pid, alive) in [
                        (Some(state.shim_pid), state.supervisor_alive()),
                        (state.init_pid, state.init_alive()),
                    ] {
                        if let (Some(pid), true) = (pid, alive) {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid as i32),
                                nix::sys::signal::Signal::SIGKILL,
                            );
                        }
                    }
                    let _ = Self::wait_exited(&dir, Duration::from_secs(1));
                }
                self.discard(&dir, &format!("/anchorage/{id_or_name}"));
                return Ok(vec![Event::ContainerRemoved {
                    id: id_or_name.to_string(),
                }]);
            }
            Err(e) => return Err(e),
        };
        let container = self.compose(&dir, &record);
        let state = shim::read_state(&dir);
        // Running, or still being started by its supervisor.
        let busy = container.state == ContainerState::Running
            || self.starting(&record.id)
            || state
                .as_ref()
                .is_some_and(|s| s.exit.is_none() && s.supervisor_alive());
        if busy {
            if !force {
                return Err(EngineError::StillRunning(record.name));
            }
            // A start of ours still waiting for its answer: its supervisor
            // goes first (it may not have written its state yet).
            if let Some(supervisor) = self.forget_start(&record.id) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(supervisor as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                wait_gone(supervisor, Duration::from_secs(1));
            }
            if let Some(pid) = container.init_pid {
                let _ = Self::signal(pid, Signal::Kill);
            }
            // Its supervisor records the end within milliseconds; one
            // that does not is killed, and its init with it.
            if !Self::wait_exited(&dir, self.patience())
                && let Some(state) = &state
                && state.supervisor_alive()
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(state.shim_pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                if !Self::wait_exited(&dir, Duration::from_secs(1)) {
                    return Err(EngineError::Refused(format!(
                        "container {}'s supervisor (pid {}) did not end after SIGKILL: the kernel holds it (see /proc/{}/stack); try again later",
                        record.name, state.shim_pid, state.shim_pid
                    )));
                }
            }
        }
        // An auto-removing supervisor may have been first.
        if dir.exists() {
            self.discard(&dir, &record.cgroup);
        }
        self.follow.remove(&record.id);
        Ok(vec![Event::ContainerRemoved { id: record.id }])
    }
}
