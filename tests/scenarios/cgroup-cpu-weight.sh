# cgroups: cpu: the weight a container is given, read inside
anchorage run --rm --cpu-weight 300 workshop cat /sys/fs/cgroup/cpu.weight
anchorage run --rm workshop cat /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max
