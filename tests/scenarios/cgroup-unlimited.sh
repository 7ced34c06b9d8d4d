# cgroups: no limits asked for, none set
anchorage run --rm --pids-limit -1 --cpus max workshop cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max
