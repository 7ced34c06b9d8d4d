# the file system: the image's root, as the container sees it
anchorage run --rm workshop ls /
anchorage run --rm workshop ls -l /etc
anchorage run --rm workshop cat /etc/motd
