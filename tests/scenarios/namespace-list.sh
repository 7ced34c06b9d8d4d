# namespaces: the kinds a process is anchored to, as /proc/self/ns lists them
anchorage run workshop ls /proc/self/ns
