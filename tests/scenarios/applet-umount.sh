# applets: umount: a container's root lacks CAP_SYS_ADMIN, so its mounts stay; a missing path is named first
anchorage run --rm workshop sh -c 'exec 2>&1; umount /proc; echo status $?; umount /nope; echo status $?; umount /tmp; echo status $?; umount -l /sys; echo status $?; cd /dev && umount shm; echo status $?; grep -c " /proc " /proc/mounts'
anchorage run --rm --security-opt seccomp=unconfined workshop sh -c 'exec 2>&1; umount /nope; echo status $?; umount /proc; echo status $?'
