# cgroups: the same limits under the v1 names, where the host has v1 hierarchies
anchorage run --rm --memory 64m --pids-limit 20 --cpus 0.5 workshop sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>&1'
anchorage run --rm workshop sh -c 'ls /sys/fs/cgroup'
