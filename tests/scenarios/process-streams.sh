# processes: stdout and stderr stay apart
anchorage run workshop sh -c 'echo out; echo err >&2'
