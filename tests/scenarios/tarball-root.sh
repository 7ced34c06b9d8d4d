# the file system: the image's root, as the container sees it
anchorage run workshop ls /
anchorage run workshop ls -l /etc
anchorage run workshop cat /etc/motd
