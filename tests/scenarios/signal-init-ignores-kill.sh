# signals: PID 1 of a pid namespace ignores SIGKILL sent from inside it
anchorage run workshop sh -c 'kill -9 $$; echo still here'
echo status $?
