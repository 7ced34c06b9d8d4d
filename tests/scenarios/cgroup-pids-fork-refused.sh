# cgroups: pids: a fork past pids.max fails inside the container
anchorage run --rm --pids-limit 2 workshop sh -c 'sleep 100 & sleep 100 & echo after; cat /sys/fs/cgroup/pids.current'
