# signals: PID 1 of a pid namespace ignores SIGKILL sent from inside it
anchorage run --rm workshop sh -c 'kill -9 $$; echo still here'
echo status $?
