# cgroups: pids, an exec into a container at its pids.max is refused, naming the cgroup
anchorage run -d --name full --pids-limit 1 workshop sleep 100
anchorage exec full true
echo status $?
anchorage rm -f full
