# signals and exits: the container's exit status is its command's
anchorage run --rm workshop sh -c 'exit 3'
echo status $?
anchorage run --rm workshop true
echo status $?
anchorage run --rm workshop false
echo status $?
