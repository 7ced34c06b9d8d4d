# namespaces: net: only the loopback device, up
anchorage run --rm workshop sh -c 'cut -d : -f 1 /proc/net/dev | tail -n +3'
anchorage run --rm workshop ip -o link
