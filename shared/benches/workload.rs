//! The benchmark workload: a busy workshop host. `CONTAINERS` containers
//! with `PROCESSES` processes in all: most sleep (a shell waiting for its
//! background jobs), one in ten also spins a CPU under a quota and holds memory, so
//! the scheduler, throttling and memory accounting all take part.

use anchorage_shared::cgroup::{CgroupLimits, CpuMax};
use anchorage_shared::container::ContainerSpec;
use anchorage_shared::engine::{Command, Engine};
use anchorage_shared::sim::SimEngine;

pub const CONTAINERS: usize = 100;
pub const PROCESSES: usize = 1000;

/// A host running the workload, settled (every process started).
pub fn busy_host() -> SimEngine {
    let mut engine = SimEngine::default();
    let per_container = PROCESSES / CONTAINERS;
    for i in 0..CONTAINERS {
        let busy = i % 10 == 0;
        // The shell is one process, waiting for its jobs (the shared
        // interpreter, parked on `wait`); each job another.
        let mut jobs: Vec<&str> = vec!["sleep infinity"; per_container - 1];
        if busy {
            jobs[0] = "cpuburn";
            jobs[1] = "memhog 16m";
        }
        let script = format!("{} & wait", jobs.join(" & "));
        let mut spec = ContainerSpec::new("workshop");
        spec.name = Some(format!("c{i:03}"));
        spec.command = vec!["sh".into(), "-c".into(), script];
        spec.limits = CgroupLimits {
            memory_max: Some(256 << 20),
            pids_max: Some(64),
            cpu_max: if busy {
                CpuMax::from_cpus(0.5).expect("a valid quota")
            } else {
                CpuMax::default()
            },
            ..CgroupLimits::default()
        };
        engine
            .apply(Command::Run { spec })
            .expect("the workload runs");
    }
    engine.advance(1_000);
    let procs = engine
        .snapshot()
        .processes
        .iter()
        .filter(|p| p.container.is_some())
        .count();
    assert_eq!(procs, PROCESSES, "the workload has all its processes");
    engine
}
