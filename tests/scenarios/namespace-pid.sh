# namespaces: pid: the container's processes count from 1, and only they are seen
anchorage run --rm workshop sh -c 'echo $$; ls /proc | grep -c "^[0-9]"'
anchorage run --rm workshop sh -c 'grep NSpid /proc/self/status | cut -f 1'
