# namespaces: user: root inside is uid 0 there, and the map is a range
anchorage run --rm workshop sh -c 'id -u; id -g; wc -l < /proc/self/uid_map; wc -l < /proc/self/gid_map'
