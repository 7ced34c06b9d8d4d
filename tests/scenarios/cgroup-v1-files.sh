# cgroups: the files of a container's cgroup in each v1 hierarchy, where the host has them
anchorage run --rm workshop sh -c 'cd /sys/fs/cgroup && for d in cpu,cpuacct cpuset memory pids blkio devices freezer systemd; do echo "== $d"; ls $d 2>&1; done'
