# the file system: the container's /dev, the host's devices bound into a tmpfs
anchorage run --rm workshop ls /dev
