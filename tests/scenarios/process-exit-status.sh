# signals and exits: the container's exit status is its command's
anchorage run workshop sh -c 'exit 3'
echo status $?
anchorage run workshop true
echo status $?
anchorage run workshop false
echo status $?
