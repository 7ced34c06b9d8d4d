# namespaces: exec joins the container's namespaces: the same inodes
anchorage run -d --name n workshop sleep 1000 >/dev/null
a=$(anchorage exec n readlink /proc/1/ns/uts /proc/1/ns/net /proc/1/ns/pid)
b=$(anchorage exec n readlink /proc/self/ns/uts /proc/self/ns/net /proc/self/ns/pid)
[ "$a" = "$b" ] && echo same
anchorage rm -f n >/dev/null
