# processes: what a container writes to its console is kept for `logs`
anchorage run --name l workshop sh -c 'echo out; echo err >&2'
anchorage logs l
anchorage rm l >/dev/null
