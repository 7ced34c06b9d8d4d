# namespaces: mount: the container's root is its own overlay
anchorage run --rm workshop sh -c 'grep " / " /proc/self/mounts | cut -d " " -f 1-3'
anchorage run --rm workshop ls /
