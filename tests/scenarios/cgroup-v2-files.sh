# cgroups: the files of a container's cgroup2 cgroup that hold no usage: their defaults, as the kernel gives them
anchorage run --rm workshop sh -c 'cd /sys/fs/cgroup && for f in cgroup.type cgroup.max.depth cgroup.max.descendants cgroup.freeze cgroup.subtree_control cpu.idle cpu.max.burst cpu.weight.nice memory.high memory.low memory.min memory.oom.group memory.swap.max memory.swap.high memory.zswap.max; do echo "$f: $(cat $f 2>&1)"; done'
anchorage run --rm workshop sh -c 'cd /sys/fs/cgroup && cut -d " " -f 1 cpu.stat memory.stat memory.numa_stat memory.events.local memory.swap.events cgroup.stat cgroup.events 2>&1'
anchorage run --rm workshop sh -c 'cat /sys/fs/cgroup/cgroup.kill /sys/fs/cgroup/memory.reclaim 2>&1'
anchorage run --rm --cpu-weight 300 workshop cat /sys/fs/cgroup/cpu.weight.nice
