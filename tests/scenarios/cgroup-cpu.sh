# cgroups: cpu, the weight a container asks for, and the quota it gets by default (half the host's CPUs, at least one)
anchorage run --rm --cpu-weight 300 workshop cat /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max
