# applets: find walks the image's tree: names, types, depth, operators and -exec
anchorage run --rm workshop sh -c 'find /etc -type f | sort; find / -maxdepth 1 -name "[pst]*" | sort; find /bin -name "s*" -type l | sort | head -n 3'
anchorage run --rm workshop sh -c 'cd /etc && find . -name passwd -exec cat {} \; | head -n 1; find . ! -name "*s*" -type f | sort; find . -name group -o -name hostname | sort'
anchorage run --rm workshop sh -c 'mkdir -p /tmp/a/b && touch /tmp/a/b/c && find /tmp -mindepth 2 | sort; find /tmp -empty | sort; find /tmp/a -type f -exec echo found {} +'
anchorage run --rm workshop sh -c 'find /nope; echo status $?; find /etc -type q; echo status $?; find -maxdepth x; find /tmp -exec echo {}; find /tmp -frob; echo status $?'
