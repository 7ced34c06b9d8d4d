# cgroups: a container that asks for no pids limit gets 1024
anchorage run --rm workshop cat /sys/fs/cgroup/pids.max
