# cgroups: the limits, as the container reads them in its cgroup namespace
anchorage run --rm --cpus 0.5 --memory 64m workshop cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /proc/self/cgroup
