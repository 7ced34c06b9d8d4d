# processes: a container's command is PID 1 inside, and ps sees only the container
anchorage run --rm workshop ps -o pid,comm
anchorage run --rm workshop sh -c 'ps -o pid,comm'
