//! Property tests of the simulated kernel: random sequences of commands
//! through the engine interface, with the kernel's invariants checked after
//! every one of them.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use anchorage_shared::cgroup::{CgroupLimits, CpuMax};
use anchorage_shared::container::{ContainerSpec, ContainerState, VolumeMount};
use anchorage_shared::engine::{Command, Engine};
use anchorage_shared::host::HostSnapshot;
use anchorage_shared::namespace::NamespaceKind;
use anchorage_shared::process::{ProcessState, Signal};
use anchorage_shared::sim::SimEngine;

/// Command lines that exercise every rule: forks, exits, zombies,
/// orphans, memory, CPU, files and volumes.
const PROGRAMS: &[&str] = &[
    "sleep 1",
    "sleep 30",
    "true",
    "false",
    "forkbomb",
    "memhog 40m",
    "memhog 8m 1",
    "cpuburn 2",
    "sh -c 'sleep 2 & sleep 3 & echo hi'",
    "sh -c 'sleep 1 & exec sleep 30'",
    "sh -c 'sh -c \"sleep 5 &\"; sleep 10'",
    "sh -c 'memhog 20m & memhog 20m & cpuburn 1'",
    "sh -c 'echo x > /data/f; cat /data/f; rm /etc/motd; ls /etc'",
    "sh -c 'mkdir -p /a/b; touch /a/b/c; rm -r /a; ls /'",
    "sh -c 'exit 3'",
];

#[derive(Clone, Debug)]
enum Op {
    Run {
        program: usize,
        memory_mib: Option<u64>,
        pids: Option<u64>,
        cpus: Option<u8>,
        weight: u32,
        volume: bool,
        auto_remove: bool,
    },
    Exec {
        container: usize,
        program: usize,
    },
    Kill {
        container: usize,
        signal: Signal,
    },
    Stop {
        container: usize,
        timeout_ms: u64,
    },
    Remove {
        container: usize,
        force: bool,
    },
    Limit {
        container: usize,
        memory_mib: Option<u64>,
        pids: Option<u64>,
    },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            0..PROGRAMS.len(),
            proptest::option::of(8u64..128),
            proptest::option::of(2u64..20),
            proptest::option::of(1u8..4),
            prop_oneof![Just(100u32), 1u32..1000],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(program, memory_mib, pids, cpus, weight, volume, auto_remove)| Op::Run {
                program,
                memory_mib,
                pids,
                cpus,
                weight,
                volume,
                auto_remove,
            }),
        1 => (0usize..4, 0..PROGRAMS.len()).prop_map(|(container, program)| Op::Exec { container, program }),
        1 => (0usize..4, prop::sample::select(Signal::ALL.to_vec()))
            .prop_map(|(container, signal)| Op::Kill { container, signal }),
        1 => (0usize..4, 0u64..2000).prop_map(|(container, timeout_ms)| Op::Stop { container, timeout_ms }),
        1 => (0usize..4, any::<bool>()).prop_map(|(container, force)| Op::Remove { container, force }),
        1 => (0usize..4, proptest::option::of(8u64..128), proptest::option::of(2u64..20))
            .prop_map(|(container, memory_mib, pids)| Op::Limit { container, memory_mib, pids }),
        4 => (0u64..1500).prop_map(Op::Advance),
    ]
}

fn words(line: &str) -> Vec<String> {
    anchorage_shared::process::parse_command_line(line).expect("test programs parse")
}

/// Applies an op; errors are allowed (a container may be gone), panics
/// and broken invariants are not.
fn apply(engine: &mut SimEngine, op: &Op) {
    let names: Vec<String> = engine
        .snapshot()
        .containers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let pick = |i: usize| {
        names
            .get(i % names.len().max(1))
            .cloned()
            .unwrap_or_else(|| "none".into())
    };
    let _ = match op.clone() {
        Op::Run {
            program,
            memory_mib,
            pids,
            cpus,
            weight,
            volume,
            auto_remove,
        } => {
            let mut spec = ContainerSpec::new("workshop");
            spec.command = words(PROGRAMS[program]);
            spec.limits = CgroupLimits {
                memory_max: memory_mib.map(|m| m << 20),
                pids_max: pids,
                cpu_max: cpus.map_or(CpuMax::default(), |c| {
                    CpuMax::from_cpus(f64::from(c) / 4.0).unwrap()
                }),
                cpu_weight: weight,
            };
            spec.auto_remove = auto_remove;
            if volume {
                spec.volumes
                    .push(VolumeMount::parse("shared:/data").unwrap());
            }
            engine.apply(Command::Run { spec }).map(|_| ())
        }
        Op::Exec { container, program } => engine
            .apply(Command::Exec {
                container: pick(container),
                argv: words(PROGRAMS[program]),
            })
            .map(|_| ()),
        Op::Kill { container, signal } => engine
            .apply(Command::Kill {
                container: pick(container),
                signal,
            })
            .map(|_| ()),
        Op::Stop {
            container,
            timeout_ms,
        } => engine
            .apply(Command::Stop {
                container: pick(container),
                timeout_ms,
            })
            .map(|_| ()),
        Op::Remove { container, force } => engine
            .apply(Command::Remove {
                container: pick(container),
                force,
            })
            .map(|_| ()),
        Op::Limit {
            container,
            memory_mib,
            pids,
        } => {
            let name = pick(container);
            let base = engine
                .snapshot()
                .container(&name)
                .map(|c| c.limits)
                .unwrap_or_default();
            engine
                .apply(Command::SetLimits {
                    container: name,
                    limits: CgroupLimits {
                        memory_max: memory_mib.map(|m| m << 20),
                        pids_max: pids,
                        ..base
                    },
                })
                .map(|_| ())
        }
        Op::Advance(ms) => {
            engine.advance(ms);
            Ok(())
        }
    };
}

fn under(cgroup: &str, path: &str) -> bool {
    cgroup == "/" || path == cgroup || path.starts_with(&format!("{cgroup}/"))
}

/// The rules every state of the kernel keeps.
fn check(snap: &HostSnapshot) -> Result<(), TestCaseError> {
    let pids: BTreeSet<u32> = snap.processes.iter().map(|p| p.pid).collect();
    // Count and memory per cgroup, charged to every ancestor.
    let mut charged: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for p in &snap.processes {
        for cg in &snap.cgroups {
            if under(&cg.path, &p.cgroup) {
                let entry = charged.entry(cg.path.as_str()).or_default();
                entry.0 += 1;
                entry.1 += p.memory_bytes;
            }
        }
    }
    for cg in &snap.cgroups {
        let (count, memory) = charged.get(cg.path.as_str()).copied().unwrap_or_default();
        // Charging is hierarchical and exact.
        prop_assert_eq!(cg.usage.pids_current, count, "pids.current of {}", cg.path);
        prop_assert_eq!(
            cg.usage.memory_current,
            memory,
            "memory.current of {}",
            cg.path
        );
        // Limits hold (pids.max may be lowered below what already runs,
        // as on Linux; it then only refuses new forks).
        if let Some(max) = cg.limits.memory_max {
            prop_assert!(cg.usage.memory_current <= max, "memory.max of {}", cg.path);
        }
        prop_assert!(cg.usage.memory_peak >= cg.usage.memory_current);
        prop_assert!(cg.usage.oom_kill <= cg.usage.oom + cg.usage.oom_kill);
    }
    // Every container's cgroup exists, and only while the container does.
    for c in &snap.containers {
        prop_assert!(snap.cgroup(&c.cgroup).is_some(), "cgroup of {}", c.name);
        match c.state {
            ContainerState::Running => {
                let init = c.init_pid.and_then(|pid| snap.process(pid));
                prop_assert!(
                    init.is_some_and(|p| p.state != ProcessState::Zombie && p.inner_pid() == 1)
                );
            }
            _ => prop_assert!(c.init_pid.is_none()),
        }
    }
    let container_cgroups = snap
        .cgroups
        .iter()
        .filter(|c| c.path.starts_with("/anchorage/"))
        .count();
    prop_assert_eq!(container_cgroups, snap.containers.len());

    let mut seen: BTreeMap<(u64, u32), u32> = BTreeMap::new();
    for p in &snap.processes {
        // The tree: every parent exists (orphans were re-parented).
        prop_assert!(p.ppid == 0 || pids.contains(&p.ppid), "parent of {}", p.pid);
        // The first pid is the host's; the last is the one inside, and it
        // is unique in its namespace.
        prop_assert_eq!(p.ns_pids[0], p.pid);
        let pid_ns = p
            .namespaces
            .iter()
            .find(|n| n.kind == NamespaceKind::Pid)
            .unwrap()
            .inode;
        if let Some(other) = seen.insert((pid_ns, p.inner_pid()), p.pid) {
            prop_assert!(
                false,
                "pid {} twice in pid:[{}]: {} and {}",
                p.inner_pid(),
                pid_ns,
                other,
                p.pid
            );
        }
        match &p.container {
            Some(id) => {
                prop_assert_eq!(p.ns_pids.len(), 2);
                prop_assert!(
                    snap.containers.iter().any(|c| &c.id == id),
                    "process of a removed container"
                );
                prop_assert!(p.uid >= 100_000, "root inside is unprivileged outside");
            }
            None => prop_assert_eq!(p.ns_pids.len(), 1),
        }
        if p.state == ProcessState::Zombie {
            prop_assert_eq!(p.memory_bytes, 0);
            prop_assert!(p.exit.is_some());
        }
    }
    // Namespaces in use by processes are listed with their counts.
    let mut users: BTreeMap<u64, u32> = BTreeMap::new();
    for p in &snap.processes {
        for id in &p.namespaces {
            *users.entry(id.inode).or_default() += 1;
        }
    }
    for (inode, count) in users {
        let ns = snap.namespaces.iter().find(|n| n.id.inode == inode);
        prop_assert!(
            ns.is_some_and(|ns| ns.processes >= count),
            "namespace {} of {} processes",
            inode,
            count
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_state_keeps_the_kernels_rules(ops in prop::collection::vec(op(), 1..40)) {
        let mut engine = SimEngine::default();
        for op in &ops {
            apply(&mut engine, op);
            check(&engine.snapshot())?;
        }
    }

    #[test]
    fn the_same_commands_give_the_same_host(ops in prop::collection::vec(op(), 1..25)) {
        let run = || {
            let mut engine = SimEngine::default();
            let mut events = Vec::new();
            for op in &ops {
                apply(&mut engine, op);
                events.extend(engine.advance(100));
            }
            (events, engine.snapshot())
        };
        prop_assert_eq!(run(), run());
    }
}
