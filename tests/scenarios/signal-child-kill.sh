# signals: a child killed by a signal reports 128 plus its number
anchorage run --rm workshop sh -c 'sleep 100 & kill -9 $!; wait $!; echo status $?'
anchorage run --rm workshop sh -c 'sleep 100 & kill $!; wait $!; echo status $?'
