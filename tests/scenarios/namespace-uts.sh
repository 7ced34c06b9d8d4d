# namespaces: uts, a hostname of its own
anchorage run --rm --hostname box workshop hostname
