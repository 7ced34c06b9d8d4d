# processes: PID 1 has no parent inside its namespace; its children name it
anchorage run --rm workshop sh -c 'grep PPid /proc/1/status; sh -c "grep PPid /proc/self/status"'
