# namespaces: uts, a hostname of its own
anchorage run --hostname box workshop hostname
