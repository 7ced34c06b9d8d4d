# namespaces: net, only the loopback device
anchorage run workshop ip addr
