# processes: a background child, waited for, gives its status to its parent
anchorage run --rm workshop sh -c 'sh -c "exit 3" & wait $!; echo child $?'
anchorage run --rm workshop sh -c 'sleep 0 & wait; echo all $?'
