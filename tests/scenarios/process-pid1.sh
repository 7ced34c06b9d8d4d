# processes: a container's command is PID 1 inside, and ps sees only the container
anchorage run workshop ps -o pid,comm
anchorage run workshop sh -c 'ps -o pid,comm'
