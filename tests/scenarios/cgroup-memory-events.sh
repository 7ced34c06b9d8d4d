# cgroups: memory: an OOM kill counts in the container's own memory.events
anchorage run --rm --memory 32m workshop sh -c 'memhog 64m; echo status $?; grep oom_kill /sys/fs/cgroup/memory.events'
