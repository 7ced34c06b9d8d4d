# layers: a write goes to the container's own layer; another container never sees it
anchorage run --rm workshop sh -c 'echo one > /tmp/f; cat /tmp/f; ls /tmp'
anchorage run --rm workshop ls /tmp
