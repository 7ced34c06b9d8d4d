# exits: a container's status is its init's
anchorage run --rm workshop sh -c 'exit 7'
echo status $?
anchorage run --rm workshop false
echo status $?
anchorage run --rm workshop nosuchcommand
echo status $?
