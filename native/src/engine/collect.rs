//! What happened since the last look: new console lines, starts and exits
//! from the supervisors' records, and each running container's cgroup
//! sampled (usage, and OOM kills turned into events).

use super::*;

impl RealEngine {
    /// What one container's supervisor wrote since the last call: new
    /// console records (a bounded batch, or what the pace allows), then
    /// its exit once recorded and its console read to the end.
    pub(super) fn collect_from(
        follow: &mut Follow,
        dir: &Path,
        record: &Container,
        rate: Option<u64>,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        if follow.cgroup.is_empty() {
            follow.cgroup = record.cgroup.clone();
        }
        // Its supervisor writes the state before anything else, so a
        // console with no state beside it is one being moved (an `--rm`
        // container retiring between the listing and this read): it is
        // read where it went, where its state says whose output it is.
        let Some(state) = shim::read_state(dir) else {
            return events;
        };
        let init_pid = state.init_pid.unwrap_or(0);
        let console = follow
            .console
            .get_or_insert_with(|| LogFollower::from_start(dir));
        let mut budget = CONSOLE_BATCH;
        if let Some(rate) = rate {
            let now = Instant::now();
            let burst = 2.0 * rate as f64;
            let (left, since) = follow.allowance.get_or_insert((burst, now));
            *left = (*left + since.elapsed().as_secs_f64() * rate as f64).min(burst);
            *since = now;
            if *left < 1.0 {
                // Nothing may go now: what came meanwhile is passed over.
                let skipped = console.skip_to_end();
                if skipped > 0 {
                    events.push(Event::OutputSkipped {
                        container: Some(record.id.clone()),
                        pid: init_pid,
                        bytes: skipped,
                        rotated: false,
                    });
                }
            }
            budget = budget.min(*left as usize);
        }
        // Output first: it was written before the exit was recorded.
        let batch = if budget > 0 {
            console.read(budget)
        } else {
            LogBatch::default()
        };
        if batch.skipped > 0 {
            events.push(Event::OutputSkipped {
                container: Some(record.id.clone()),
                pid: init_pid,
                bytes: batch.skipped,
                rotated: true,
            });
        }
        let mut taken = 0;
        for line in batch.lines {
            taken += line.data.len();
            events.push(Event::Output {
                container: Some(record.id.clone()),
                pid: init_pid,
                stream: line.stream,
                data: line.data,
            });
        }
        if let Some((left, _)) = &mut follow.allowance {
            *left -= taken as f64;
            if rate.is_some() && batch.more && *left < 1.0 {
                // Over the pace: the rest is passed over, not queued.
                let skipped = console.skip_to_end();
                events.push(Event::OutputSkipped {
                    container: Some(record.id.clone()),
                    pid: init_pid,
                    bytes: skipped,
                    rotated: false,
                });
            }
        }
        follow.more = batch.more && rate.is_none();
        if follow.more {
            // The exit waits until its output has gone out.
            return events;
        }
        if state.exit.is_some() && !dir.join("container.json").exists() {
            // It retired (`--rm`) while its console was being read: the
            // rest, and its end, are read where it moved to.
            return events;
        }
        if !follow.exit_reported
            && let Some(status) = state.exit
        {
            follow.exit_reported = true;
            if init_pid != 0 {
                events.push(Event::ProcessExited {
                    pid: init_pid,
                    ns_pids: vec![init_pid, 1],
                    status,
                    container: Some(record.id.clone()),
                });
            }
            if state.oom_killed && !follow.oom_victims.contains(&init_pid) {
                events.push(Event::OomKill {
                    pid: init_pid,
                    cgroup: record.cgroup.clone(),
                    container: Some(record.id.clone()),
                });
            }
            events.push(Event::ContainerExited {
                id: record.id.clone(),
                status,
                oom_killed: state.oom_killed,
            });
        }
        events
    }

    /// Waits until a watched pipe has something (or closes), at most `ms`:
    /// whether one did.
    pub(super) fn poll_activity(&mut self, ms: u64) -> bool {
        // Output left by the last look's budget is there now.
        if self.follow.values().any(|f| f.more) || self.execs.iter().any(|e| e.has_more()) {
            return true;
        }
        let mut fds: Vec<PollFd> = self
            .watch
            .iter()
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .chain(
                self.execs
                    .iter()
                    .flat_map(|e| e.fds())
                    .chain(self.pending_fds())
                    .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
            )
            .collect();
        let timeout = PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::ZERO);
        if fds.is_empty() {
            if ms > 0 {
                std::thread::sleep(Duration::from_millis(ms));
            }
            return false;
        }
        if !matches!(nix::poll::poll(&mut fds, timeout), Ok(n) if n > 0) {
            return false;
        }
        let states: Vec<PollFlags> = fds[..self.watch.len()]
            .iter()
            .map(|p| p.revents().unwrap_or(PollFlags::empty()))
            .collect();
        let answered = fds[fds.len() - self.pending_starts.len()..]
            .iter()
            .any(|p| p.revents().is_some_and(|r| !r.is_empty()));
        drop(fds);
        if answered || states.iter().any(|s| !s.is_empty()) {
            self.reported = true;
        }
        let mut index = 0;
        self.watch.retain(|fd| {
            let revents = states[index];
            index += 1;
            if revents.contains(PollFlags::POLLIN) {
                // A supervisor's report (`exited ...`): its state file says
                // the same, so the bytes are only a wake-up.
                let mut buf = [0u8; 512];
                let _ = nix::unistd::read(fd.as_fd(), &mut buf);
            }
            !revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
        });
        true
    }

    /// Turns what supervisors wrote since the last call into events.
    pub(super) fn collect(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let present = self.load_all();
        for (dir, record) in &present {
            if self.starting(&record.id) {
                // Its start is reported first, when its answer comes.
                continue;
            }
            let follow = self.follow.entry(record.id.clone()).or_default();
            events.extend(Self::collect_from(follow, dir, record, self.console_rate));
        }
        // Containers that went while followed: removed by `rm` elsewhere,
        // or by their supervisor (`--rm`), which left their ending in
        // `.removed/ID`.
        let gone: Vec<String> = self
            .follow
            .keys()
            .filter(|id| !present.iter().any(|(_, c)| &c.id == *id))
            .cloned()
            .collect();
        let retired = shim::retired_dir(&self.containers_dir());
        for id in gone {
            let mut follow = self.follow.remove(&id).unwrap_or_default();
            let dir = retired.join(&id);
            if let Ok(bytes) = fs::read(dir.join("container.json"))
                && let Ok(record) = serde_json::from_slice::<Container>(&bytes)
            {
                // The console is read to its end first, however long, in
                // the directory it moved to.
                follow
                    .console
                    .get_or_insert_with(|| LogFollower::from_start(&dir))
                    .moved_to(&dir);
                loop {
                    events.extend(Self::collect_from(
                        &mut follow,
                        &dir,
                        &record,
                        self.console_rate,
                    ));
                    if !follow.more {
                        break;
                    }
                }
                let _ = crate::tarball::store::remove_tree(&dir);
            }
            events.push(Event::ContainerRemoved { id });
        }
        events
    }

    /// Reads each running container's cgroup: its usage, for the next
    /// snapshot, and its OOM kills, as events. The kernel counts kills in
    /// `memory.events` without saying whom; the victim is the process of
    /// that container that ended SIGKILLed (an `exec`), or else the one
    /// that left the cgroup since the last look. When neither tells, the
    /// event says pid 0.
    pub(super) fn sample_cgroups(&mut self, events: &mut Vec<Event>, joiners: &[u32]) {
        let Some(layout) = &self.layout else {
            return;
        };
        self.usage.clear();
        let mut kills = Vec::new();
        for (id, follow) in self.follow.iter_mut() {
            if follow.exit_reported || follow.cgroup.is_empty() {
                continue;
            }
            let cgroup = Cgroup::open(layout, &follow.cgroup);
            let Ok(usage) = cgroup.usage() else {
                continue;
            };
            self.usage.insert(follow.cgroup.clone(), usage);
            let pids = cgroup.processes().unwrap_or_default();
            let new_kills = usage.oom_kill.saturating_sub(follow.oom_kills);
            follow.oom_kills = usage.oom_kill;
            let now = Instant::now();
            follow
                .unnamed_kills
                .extend((0..new_kills.min(64)).map(|_| now));
            if !follow.unnamed_kills.is_empty() {
                let mut candidates: Vec<u32> = events
                    .iter()
                    .filter_map(|e| match e {
                        Event::ProcessExited {
                            pid,
                            status: ExitStatus::Signaled(Signal::Kill),
                            container: Some(c),
                            ..
                        } if c == id => Some(*pid),
                        _ => None,
                    })
                    .collect();
                for pid in &follow.pids {
                    if !pids.contains(pid) && !joiners.contains(pid) && !candidates.contains(pid) {
                        candidates.push(*pid);
                    }
                }
                candidates.retain(|pid| !follow.oom_victims.contains(pid));
                let mut candidates = candidates.into_iter();
                follow.unnamed_kills.retain(|since| {
                    let pid = match candidates.next() {
                        Some(pid) => pid,
                        None if since.elapsed() >= OOM_VICTIM_GRACE => 0,
                        None => return true,
                    };
                    if pid != 0 {
                        follow.oom_victims.push(pid);
                    }
                    kills.push(Event::OomKill {
                        pid,
                        cgroup: follow.cgroup.clone(),
                        container: Some(id.clone()),
                    });
                    false
                });
            }
            follow.pids = pids;
        }
        // Each kill goes before the victim's exit, as it happened.
        for kill in kills {
            let Event::OomKill { pid, .. } = &kill else {
                continue;
            };
            let at = events
                .iter()
                .position(
                    |e| matches!(e, Event::ProcessExited { pid: p, .. } if p == pid && *pid != 0),
                )
                .unwrap_or(events.len());
            events.insert(at, kill);
        }
    }
}
