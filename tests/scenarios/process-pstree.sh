# processes: pstree inside a container draws its own tree from PID 1, alike siblings merged, arguments with -a, parents with -s
anchorage run -d --name a workshop sh -c 'sleep 1000 & sleep 1000 & (sleep 900 & sleep 900 & wait) & sleep 1000'
anchorage exec a sh -c 'exec 2>&1; pstree; pstree -c; pstree -a 1; pstree -n 1; pstree -s 1; pstree -A 9999; echo status $?; pstree nobody; echo status $?'
anchorage rm -f a
