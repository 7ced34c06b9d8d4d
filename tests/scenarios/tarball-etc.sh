# the file system: the image's /etc, as its layers made it
anchorage run --rm workshop cat /etc/hostname /etc/passwd
anchorage run --rm --hostname box workshop cat /etc/hostname
