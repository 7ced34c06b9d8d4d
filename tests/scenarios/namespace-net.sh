# namespaces: net, only the loopback device
anchorage run --rm workshop ip addr
