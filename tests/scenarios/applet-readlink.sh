# applets: readlink: the links of /proc and of the image's commands
anchorage run --rm workshop sh -c 'readlink /proc/self; readlink /proc/self/ns/uts | cut -d : -f 1; readlink -f /proc/self/../1/ns/..; readlink /bin/sh; readlink -f /bin/sh; readlink /etc; echo status $?; readlink -f /etc/nothere; readlink -f /nope/x; echo status $?'
