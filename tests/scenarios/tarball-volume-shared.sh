# the file system: two containers share a named volume
anchorage run --rm -v shared:/data workshop sh -c 'echo hello > /data/msg'
anchorage run --rm -v shared:/data workshop cat /data/msg
anchorage run --rm -v shared:/data workshop ls /data
