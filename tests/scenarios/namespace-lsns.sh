# namespaces: lsns inside a container lists its eight namespaces (time shared with the host), by inode, each with its processes and the lowest
anchorage run -d --name a --hostname box workshop sleep 1000
anchorage exec a sh -c 'exec 2>&1; sleep 500 & lsns -o TYPE,NPROCS,PID,PPID,USER,COMMAND; lsns -p 1 -o TYPE,PATH -l; lsns -n -o TYPE,UID -t uts -t user; lsns -r -o TYPE,COMMAND -t pid; lsns -t foo; lsns 5; echo status $?; kill $!'
anchorage rm -f a
