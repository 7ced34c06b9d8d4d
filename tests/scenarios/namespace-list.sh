# namespaces: the kinds a process is anchored to, as /proc/self/ns lists them
anchorage run --rm workshop ls /proc/self/ns
