# processes: stdout and stderr stay apart
anchorage run --rm workshop sh -c 'echo out; echo err >&2'
