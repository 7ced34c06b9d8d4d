# `ip` in a fresh network namespace, line by line: `t` runs one and prints it, what it printed and its status. The oracle test runs this with BusyBox's ip, with toolbox's over netlink, and in `anchorage sim` (tests/tests/shell_oracle.rs).
t() { echo "\$ ip $*"; ip "$@" 2>&1; echo "status $?"; }
t link
t addr
t route
t -o link
t link set lo up
t addr
t -o addr
t -4 addr
t -6 addr
t -o -4 addr show dev lo
t addr show lo
t link show dev nosuch
t link set nosuch up
t addr add 10.1.2.3/24 dev lo
t addr add 10.1.2.3/24 dev lo
t addr add 10.1.1.1 dev lo
t addr add 10.9.0.1/16 brd + dev lo
t addr add 192.168.5.5/24 dev lo label lo:5
t addr add 10.0.0.1/8 scope link dev lo
t addr add 10.7.0.1/24 dev nosuch
t addr add 10.7.0.1/24
t addr add 10.7.0.1/24 dev lo label foo
t addr
t route
t route show table local
t route add 10.5.0.0/16 via 10.1.2.1
t route add 10.6.0.0/16 via 10.99.0.1
t route add default via 10.1.2.1
t route add 10.5.0.0/16 via 10.1.2.1
t route add 10.5.0.0/16 via 10.1.2.1 metric 7
t route add 10.8.0.0/16 dev lo
t route
t route del 10.5.0.0/16 metric 7
t route del 10.77.0.0/16
t route replace default via 10.1.2.9
t route
t -6 route
t -6 addr add 2001:db8::1/64 dev lo
t -6 addr
t -6 route
t addr del 10.1.2.3/24 dev lo
t route
t addr del 10.1.2.3/24 dev lo
t link set lo mtu 1500
t link set lo qlen 5
t link set lo address 02:00:00:00:00:01
t link
t link set lo down
t link
t route
t addr
t route add 10.8.0.0/16 dev lo
t link set lo name loop0
t link
t addr flush dev loop0
t addr
t route flush dev loop0
t link set loop0 up
t addr
t route
t -o link
t -6 addr
t link set loop0 multicast on
t link set loop0 arp off
t link
t link bogus
t addr add
t route add
t route add 10.9.9.0/24 via
t link set loop0 mtu big
t link set loop0 qlen 1000
t addr add 10.0.0.1/24 dev loop0
t addr add 10.0.0.2/24 dev loop0
t addr add dev loop0
t route add 10.70.1.2/16 dev loop0
t route add 10.70.0.0/16 via 10.0.0.9 src 10.0.0.77
t route append 10.70.0.0/16 via 10.0.0.9 src 10.0.0.77
t route append 10.70.0.0/16 via 10.0.0.8
t route change 192.168.99.0/24 dev loop0
t route add 10.71.0.0/16 dev loop0 table 0
t route add blackhole 10.72.0.0/16
t route add 10.73.0.0/16 via 10.0.0.9 src 10.0.0.2
t route
t route show scope link
t route show table all
t addr show label 'loop0*'
t addr show label loop0:9
t addr add 10.0.5.5/24 dev loop0 label loop0:9
t addr show label 'loop0:*'
t -o addr show to 10.0.0.0/24
t addr del 10.0.0.2/24 dev loop0
t route
t addr del 10.0.0.1/24 dev loop0
t route
t -6 route add 2001:db8:1::/64 dev loop0
t -6 route
t -6 addr add ::/0 dev loop0
t link set loop0 mtu 60
t addr
t link set loop0 mtu 65536
t addr
t link set loop0 address zz:11
t link set loop0 address 02:00:00:00:01
t link set loop0 up down bogus
t route add 10.74.0.0/16 dev loop0 10.75.0.0/16
