# processes: a command exec'd into a running container joins its pid namespace
anchorage run -d --name p workshop sleep 1000 >/dev/null
anchorage exec p sh -c 'cat /proc/1/comm; ls /proc | grep -c "^[0-9]"'
anchorage rm -f p >/dev/null
