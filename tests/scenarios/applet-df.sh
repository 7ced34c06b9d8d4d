# applets: df asks statfs of each mount: a container's tmpfs holds its size= in pages, procfs, cgroupfs and devpts keep nothing
anchorage run --rm workshop sh -c 'exec 2>&1; df /dev/shm /dev /proc /sys/fs/cgroup /dev/pts; echo hi > /dev/shm/a; dd if=/dev/zero of=/dev/shm/b bs=1k count=10 2>/dev/null; df -P /dev/shm; df -T /dev/shm; df -h /dev/shm; df -t devpts -a; df /nope; echo status $?'
