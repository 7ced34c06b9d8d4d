# cgroups: update changes a running container's limits, read inside
anchorage run -d --name u --memory 64m --pids-limit 10 workshop sleep 1000 >/dev/null
anchorage update --memory 128m --pids-limit 30 u >/dev/null
anchorage exec u cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max
anchorage rm -f u >/dev/null
