# the file system: the mount points a container has, in order
anchorage run --rm workshop sh -c 'cut -d " " -f 2,3 /proc/self/mounts'
