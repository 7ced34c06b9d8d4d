//! The cgroup logic against scratch directories laid out like cgroupfs (the
//! real hierarchies are exercised as root in `tests/tests/cgroup.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anchorage_shared::cgroup::{CgroupLimits, CpuMax};
use anchorage_shared::host::CgroupLayout;

use super::*;

/// This project's CI machine: v1 controllers and a cgroup2 mount.
const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// A current systemd distribution.
const UNIFIED: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

/// An older distribution, with cpu and cpuacct mounted together.
const LEGACY: &str = "\
25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
26 20 0:23 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
27 20 0:24 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
";

#[test]
fn a_container_sees_the_hosts_hierarchies_in_its_own_namespace() {
    // v2: cgroup2 itself, as the host has it.
    assert_eq!(container_view(UNIFIED, &[]), Vec::new());
    // Hybrid: each v1 hierarchy by its options, the named one with
    // `none`, and the unified mount.
    let hybrid = container_view(HYBRID, &[]);
    let v1 = |name: &str, options: &str| CgroupMount::V1 {
        name: name.into(),
        options: options.into(),
    };
    assert_eq!(
        hybrid,
        vec![
            v1("cpu", "cpu"),
            v1("cpuacct", "cpuacct"),
            v1("memory", "memory"),
            v1("pids", "pids"),
            v1("systemd", "none,name=systemd"),
            CgroupMount::V2 {
                name: "unified".into()
            },
        ]
    );
    // v1 with cpu and cpuacct together, and the host's links to them.
    let links = [
        ("cpu".to_string(), "cpu,cpuacct".to_string()),
        ("cpuacct".to_string(), "cpu,cpuacct".to_string()),
        ("elsewhere".to_string(), "/tmp".to_string()),
    ];
    let legacy = container_view(LEGACY, &links);
    assert_eq!(legacy[0], v1("cpu,cpuacct", "cpu,cpuacct"));
    assert!(legacy.contains(&CgroupMount::Link {
        name: "cpu".into(),
        target: "cpu,cpuacct".into()
    }));
    assert_eq!(legacy.len(), 5, "{legacy:?}");
}

#[test]
fn layouts_are_read_from_mountinfo() {
    let hybrid = detect(HYBRID).unwrap();
    assert_eq!(hybrid.kind(), CgroupLayout::Hybrid);
    let Layout::Hybrid {
        controllers,
        unified,
        others,
    } = &hybrid
    else {
        unreachable!()
    };
    // A container's cgroup is made in every hierarchy: systemd's named
    // one and the unified one too.
    assert_eq!(
        others,
        &[
            Path::new("/sys/fs/cgroup/systemd").to_path_buf(),
            Path::new("/sys/fs/cgroup/unified").to_path_buf()
        ]
    );
    assert_eq!(
        controllers[&Controller::Memory],
        Path::new("/sys/fs/cgroup/memory")
    );
    assert_eq!(
        controllers[&Controller::Cpuacct],
        Path::new("/sys/fs/cgroup/cpuacct")
    );
    assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));

    assert_eq!(
        detect(UNIFIED).unwrap(),
        Layout::Unified {
            root: "/sys/fs/cgroup".into()
        }
    );
    let Layout::Legacy {
        controllers,
        others,
    } = detect(LEGACY).unwrap()
    else {
        panic!("legacy")
    };
    assert_eq!(
        controllers[&Controller::Cpu],
        controllers[&Controller::Cpuacct]
    );
    assert_eq!(
        controllers[&Controller::Cpu],
        Path::new("/sys/fs/cgroup/cpu,cpuacct")
    );
    assert!(others.is_empty(), "{others:?}");

    let err = detect("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n").unwrap_err();
    assert!(err.to_string().contains("mount cgroup2"), "{err}");
    let escaped = detect("30 22 0:26 / /mnt/cg\\040root rw - cgroup2 cgroup2 rw\n").unwrap();
    assert_eq!(
        escaped,
        Layout::Unified {
            root: "/mnt/cg root".into()
        }
    );
}

fn limits() -> CgroupLimits {
    CgroupLimits {
        memory_max: Some(64 << 20),
        pids_max: Some(10),
        cpu_max: CpuMax::from_cpus(0.5).unwrap(),
        cpu_weight: 200,
    }
}

fn contents(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn v2_enables_controllers_down_the_tree_and_writes_the_model_files() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::write(
        r.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids rdma\n",
    )
    .unwrap();
    fs::write(r.join("cgroup.subtree_control"), "cpu\n").unwrap();
    fs::create_dir(r.join("anchorage")).unwrap();
    fs::write(r.join("anchorage/cgroup.controllers"), "cpu memory pids\n").unwrap();
    let layout = Layout::Unified {
        root: r.to_path_buf(),
    };
    let cgroup = Cgroup::create(&layout, "/anchorage/c1").unwrap();
    assert_eq!(contents(&r.join("cgroup.subtree_control")), "+memory +pids");
    assert_eq!(
        contents(&r.join("anchorage/cgroup.subtree_control")),
        "+memory +pids +cpu"
    );
    let dir = r.join("anchorage/c1");
    assert!(dir.is_dir());
    fs::write(dir.join("memory.swap.max"), "max\n").unwrap();
    cgroup.apply(&limits()).unwrap();
    assert_eq!(contents(&dir.join("memory.max")), "67108864");
    assert_eq!(contents(&dir.join("memory.swap.max")), "0");
    assert_eq!(contents(&dir.join("pids.max")), "10");
    assert_eq!(contents(&dir.join("cpu.max")), "50000 100000");
    assert_eq!(contents(&dir.join("cpu.weight")), "200");
    cgroup.apply(&CgroupLimits::default()).unwrap();
    assert_eq!(contents(&dir.join("memory.max")), "max");
    assert_eq!(contents(&dir.join("cpu.max")), "max 100000");

    fs::write(dir.join("memory.current"), "1048576\n").unwrap();
    fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n",
    )
    .unwrap();
    fs::write(dir.join("pids.current"), "3\n").unwrap();
    fs::write(dir.join("pids.events"), "max 4\n").unwrap();
    fs::write(
        dir.join("cpu.stat"),
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 20\nnr_throttled 9\nthrottled_usec 450000\n",
    )
    .unwrap();
    fs::write(dir.join("cgroup.procs"), "41\n42\n").unwrap();
    let usage = cgroup.usage().unwrap();
    assert_eq!(usage.memory_current, 1 << 20);
    assert_eq!(
        usage.memory_peak,
        1 << 20,
        "no memory.peak before Linux 5.19"
    );
    assert_eq!(
        (usage.memory_events_max, usage.oom, usage.oom_kill),
        (7, 2, 1)
    );
    assert_eq!((usage.pids_current, usage.pids_events_max), (3, 4));
    assert_eq!(
        (
            usage.cpu_usage_usec,
            usage.nr_periods,
            usage.nr_throttled,
            usage.throttled_usec
        ),
        (1500, 20, 9, 450_000)
    );
    assert_eq!(cgroup.processes().unwrap(), [41, 42]);
    cgroup.add(43).unwrap();
    assert_eq!(contents(&dir.join("cgroup.procs")), "43");
}

#[test]
fn v1_writes_limits_under_their_v1_names_in_each_hierarchy() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let controllers = v1_controllers(r);
    let layout = Layout::Hybrid {
        controllers,
        unified: r.join("unified"),
        others: vec![],
    };
    let cgroup = Cgroup::create(&layout, "/anchorage/c1").unwrap();
    let memory = r.join("memory/anchorage/c1");
    fs::write(
        memory.join("memory.memsw.limit_in_bytes"),
        "9223372036854771712\n",
    )
    .unwrap();
    cgroup.apply(&limits()).unwrap();
    assert_eq!(contents(&memory.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(
        contents(&memory.join("memory.memsw.limit_in_bytes")),
        "67108864"
    );
    assert_eq!(contents(&r.join("pids/anchorage/c1/pids.max")), "10");
    let cpu = r.join("cpu/anchorage/c1");
    assert_eq!(contents(&cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(contents(&cpu.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(contents(&cpu.join("cpu.shares")), "2048");
    cgroup.apply(&CgroupLimits::default()).unwrap();
    assert_eq!(contents(&memory.join("memory.limit_in_bytes")), "-1");
    assert_eq!(contents(&cpu.join("cpu.cfs_quota_us")), "-1");
    assert_eq!(contents(&r.join("pids/anchorage/c1/pids.max")), "max");

    fs::write(memory.join("memory.usage_in_bytes"), "4096\n").unwrap();
    fs::write(memory.join("memory.max_usage_in_bytes"), "8192\n").unwrap();
    fs::write(memory.join("memory.failcnt"), "5\n").unwrap();
    fs::write(
        memory.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    )
    .unwrap();
    fs::write(r.join("pids/anchorage/c1/pids.current"), "2\n").unwrap();
    fs::write(r.join("cpuacct/anchorage/c1/cpuacct.usage"), "2500000\n").unwrap();
    fs::write(
        cpu.join("cpu.stat"),
        "nr_periods 10\nnr_throttled 4\nthrottled_time 200000000\n",
    )
    .unwrap();
    let usage = cgroup.usage().unwrap();
    assert_eq!((usage.memory_current, usage.memory_peak), (4096, 8192));
    assert_eq!((usage.memory_events_max, usage.oom_kill), (5, 1));
    assert_eq!(usage.pids_current, 2);
    assert_eq!(usage.cpu_usage_usec, 2500);
    assert_eq!(
        (usage.nr_periods, usage.nr_throttled, usage.throttled_usec),
        (10, 4, 200_000)
    );
}

#[test]
fn a_process_placed_elsewhere_in_each_hierarchy_is_read_where_it_is() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let mut controllers = BTreeMap::new();
    for c in Controller::ALL {
        controllers.insert(c, r.join(c.name()));
    }
    let layout = Layout::Hybrid {
        controllers,
        unified: r.join("unified"),
        others: vec![],
    };
    // As runc placed a container: nested under the caller's memory cgroup,
    // at the root of the other hierarchies.
    let memory = r.join("memory/outer/ctr");
    let pids = r.join("pids/ctr");
    let cpuacct = r.join("cpuacct/ctr");
    let cpu = r.join("cpu/ctr");
    for dir in [&memory, &pids, &cpuacct, &cpu] {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(memory.join("memory.usage_in_bytes"), "4096\n").unwrap();
    fs::write(memory.join("memory.max_usage_in_bytes"), "8192\n").unwrap();
    fs::write(memory.join("memory.failcnt"), "0\n").unwrap();
    fs::write(pids.join("pids.current"), "3\n").unwrap();
    fs::write(cpuacct.join("cpuacct.usage"), "1000000\n").unwrap();
    fs::write(
        cpu.join("cpu.stat"),
        "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    )
    .unwrap();
    let cgroup = Cgroup::of_process(
        &layout,
        "9:name=systemd:/ctr\n8:pids:/ctr\n4:memory:/outer/ctr\n2:cpuacct:/ctr\n1:cpu:/ctr\n0::/ctr\n",
    );
    assert_eq!(cgroup.path(), "/outer/ctr");
    let usage = cgroup.usage().unwrap();
    assert_eq!(usage.memory_current, 4096);
    assert_eq!(usage.pids_current, 3);
    assert_eq!(usage.cpu_usage_usec, 1000);
}

#[test]
fn weights_map_to_shares_with_the_defaults_matching() {
    assert_eq!(v1::shares(100), 1024);
    assert_eq!(v1::shares(1), 10);
    assert_eq!(v1::shares(10_000), 102_400);
}

#[test]
fn errors_name_the_file_and_what_to_do() {
    let layout = Layout::Unified {
        root: "/nonexistent-cgroupfs".into(),
    };
    let err = Cgroup::create(&layout, "/anchorage/c1").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("/nonexistent-cgroupfs/anchorage"), "{text}");
}

#[test]
fn a_new_cpuset_cgroup_gets_its_parents_cpus_and_memory_nodes() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let controllers = v1_controllers(r);
    let cpuset = r.join("cpuset");
    fs::create_dir(&cpuset).unwrap();
    fs::write(cpuset.join("cpuset.cpus"), "0-1\n").unwrap();
    fs::write(cpuset.join("cpuset.mems"), "0\n").unwrap();
    // The kernel makes the files, empty, with each new cgroup.
    fs::create_dir(cpuset.join("anchorage")).unwrap();
    fs::write(cpuset.join("anchorage/cpuset.cpus"), "\n").unwrap();
    fs::write(cpuset.join("anchorage/cpuset.mems"), "\n").unwrap();
    let layout = Layout::Legacy {
        controllers,
        others: vec![cpuset.clone()],
    };
    let cgroup = Cgroup::create(&layout, "/anchorage/c1").unwrap();
    assert_eq!(
        fs::read_to_string(cpuset.join("anchorage/cpuset.cpus")).unwrap(),
        "0-1"
    );
    assert_eq!(
        fs::read_to_string(cpuset.join("anchorage/cpuset.mems")).unwrap(),
        "0"
    );
    assert!(cpuset.join("anchorage/c1").is_dir());
    assert!(
        cgroup
            .procs_files()
            .contains(&cpuset.join("anchorage/c1/cgroup.procs"))
    );
}

/// A directory per controller under `r`, as v1 hierarchies.
fn v1_controllers(r: &Path) -> BTreeMap<Controller, std::path::PathBuf> {
    let mut controllers = BTreeMap::new();
    for c in Controller::ALL {
        fs::create_dir(r.join(c.name())).unwrap();
        controllers.insert(c, r.join(c.name()));
    }
    controllers
}
