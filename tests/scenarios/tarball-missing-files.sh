# the file system: what the image does not hold is not there
anchorage run --rm workshop cat /etc/hostname
echo status $?
