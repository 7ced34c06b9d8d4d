# the file system: a stopped container keeps its writable layer when started again
anchorage run --name a workshop sh -c 'echo once >> /count.txt; cat /count.txt'
anchorage start a >/dev/null
sleep 1
anchorage logs a
anchorage rm -f a >/dev/null
