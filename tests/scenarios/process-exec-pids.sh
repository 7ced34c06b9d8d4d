# processes: each exec'd command is the next pid in the container's pid namespace
anchorage run -d --name box workshop sleep 100
anchorage exec box ps -o pid,comm
anchorage exec box ps -o pid,comm
anchorage rm -f box
