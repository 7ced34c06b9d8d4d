# applets: grep over a pipe and over files (-i -v -c -n -o -E -q -w -x), and its statuses
anchorage run --rm workshop sh -c 'ps -o comm | grep -c sleep; sleep 30 & ps -o comm | grep sleep; kill $!'
anchorage run --rm workshop sh -c 'grep NSpid /proc/self/status | grep -o "[0-9]*"; grep -n root /etc/passwd; grep -c -v root /etc/passwd'
anchorage run --rm workshop sh -c 'grep -i ROOT /etc/passwd | grep -E "^r(o)+t" -o; grep -q nobody /etc/passwd && echo found; grep -w ro /etc/passwd; echo none $?'
anchorage run --rm workshop sh -c 'grep x /nonexistent; echo missing $?; echo abc | grep -x ab; echo whole $?'
