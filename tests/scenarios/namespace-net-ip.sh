# namespaces: net: a container's namespace has loopback only, its addresses and local routes; changing it needs CAP_NET_ADMIN, which its root lacks
anchorage run -d --name a workshop sleep 1000
anchorage exec a sh -c 'exec 2>&1; ip -o addr; ip route; echo status $?; ip route show table local; ip -6 route show table local; ip -4 -o addr show dev lo'
anchorage exec a sh -c 'exec 2>&1; ip link set lo down; echo status $?; ip link set lo mtu 1500; echo status $?; ip addr add 10.1.2.3/24 dev lo; echo status $?; ip route add 10.9.0.0/16 dev lo; echo status $?; ip link show lo'
anchorage exec a sh -c 'exec 2>&1; ip link set eth0 up; echo status $?; ip addr show dev eth0; echo status $?; ip route add 10.9.0.0/16 via 10.99.0.1; echo status $?'
anchorage rm -f a
