# the file system: a file written in a removed container is gone from the next
anchorage run --name a workshop sh -c 'echo kept > /data.txt'
anchorage rm a >/dev/null
anchorage run --rm workshop cat /data.txt
echo status $?
