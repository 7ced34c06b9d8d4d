# processes: comm and cmdline of PID 1
anchorage run --rm workshop sh -c 'cat /proc/1/comm; tr "\0" " " < /proc/1/cmdline; echo'
