//! What a crash leaves, found and put right as every command starts
//! (and, in a server, as it looks): a container whose creation was
//! killed before its record was written is removed, and one whose
//! supervisor was killed is ended as `runc state` would see it (its
//! init and cgroup killed, its exit recorded with the reason).

use std::fs;
use std::path::Path;

use anchorage_shared::container::Container;
use anchorage_shared::process::{ExitStatus, Signal};

use super::RealEngine;
use crate::cgroup::Cgroup;
use crate::process::shim::{self, RunState};

impl RealEngine {
    /// Puts the data directory right after a crash; every command runs
    /// this as it opens the engine.
    pub(super) fn recover(&mut self) {
        // Creations hold this lock from their first directory to their
        // record: with it held, a directory without a record is a
        // creation that was killed.
        let Ok(_lock) = self.lock_containers() else {
            return;
        };
        for entry in fs::read_dir(self.containers_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if name.starts_with('.') || !dir.is_dir() {
                continue;
            }
            match fs::read(dir.join("container.json")) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.discard(&dir, &format!("/anchorage/{name}"));
                }
                // Damaged from outside (no crash leaves it so: it is
                // written whole or not at all): said, not deleted.
                Ok(bytes) => {
                    if let Err(e) = serde_json::from_slice::<Container>(&bytes) {
                        eprintln!(
                            "anchorage: {} is damaged ({e}), so its container is not listed: `anchorage rm -f {name}` removes it",
                            dir.join("container.json").display()
                        );
                    }
                }
                Err(e) => eprintln!(
                    "anchorage: cannot read {}: {e}",
                    dir.join("container.json").display()
                ),
            }
        }
        for (dir, container) in self.load_all() {
            let Some(state) = shim::read_state(&dir) else {
                continue;
            };
            if state.exit.is_some() {
                // An `--rm` container whose supervisor died removing it.
                if container.auto_remove && !state.supervisor_alive() {
                    shim::retire(&dir, self.cgroup_of(&container).as_ref());
                }
                continue;
            }
            if !state.supervisor_alive() {
                self.settle(&dir, &container, state);
            }
        }
    }

    /// A server's look at its running containers (at most once a second,
    /// or when a supervisor's pipe closed): any whose supervisor died is
    /// ended.
    pub(super) fn find_orphans(&mut self) {
        for (dir, container) in self.load() {
            if let Some(state) = shim::read_state(&dir)
                && state.exit.is_none()
                && !state.supervisor_alive()
            {
                self.settle(&dir, &container, state);
            }
        }
    }

    /// The directory of a container whose record does not read, by its
    /// full id (as the warning about it gives it).
    pub(super) fn damaged_dir(&self, id: &str) -> Option<std::path::PathBuf> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let dir = self.containers_dir().join(id);
        let bytes = fs::read(dir.join("container.json")).ok()?;
        serde_json::from_slice::<Container>(&bytes)
            .is_err()
            .then_some(dir)
    }

    fn cgroup_of(&self, container: &Container) -> Option<Cgroup> {
        self.layout
            .as_ref()
            .map(|layout| Cgroup::open(layout, &container.cgroup))
    }

    /// Ends a container whose supervisor is gone without recording the
    /// end: its init is killed if it still runs, then its cgroup with all
    /// in it, and the end is recorded with the reason. An `--rm`
    /// container is then removed. Returns the state recorded.
    pub(super) fn settle(&self, dir: &Path, container: &Container, state: RunState) -> RunState {
        // Read again now that its supervisor is known dead (a dead one
        // writes nothing more): it may have recorded the end just before
        // it died, and that record stands.
        let mut state = match shim::read_state(dir) {
            Some(fresh) if fresh.exit.is_some() || fresh.supervisor_alive() => return fresh,
            Some(fresh) => fresh,
            None => state,
        };
        if state.init_alive()
            && let Some(pid) = state.init_pid
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let cgroup = self.cgroup_of(container);
        if let Some(cgroup) = &cgroup {
            state.oom_killed |= cgroup.usage().is_ok_and(|usage| usage.oom_kill > 0);
            let _ = cgroup.destroy();
        }
        let supervisor = state.shim_pid;
        if state.init_pid.is_some() {
            state.exit = Some(ExitStatus::Signaled(Signal::Kill));
            state.error = Some(format!(
                "its supervisor (pid {supervisor}) was killed, and the container with it"
            ));
        } else {
            state.exit = Some(ExitStatus::Code(125));
            state.error = Some(format!(
                "its supervisor (pid {supervisor}) was killed before the container started"
            ));
        }
        state.finished_ms = Some(shim::now_ms());
        let _ = shim::write_state(dir, &state);
        if container.auto_remove {
            shim::retire(dir, cgroup.as_ref());
        }
        state
    }
}
