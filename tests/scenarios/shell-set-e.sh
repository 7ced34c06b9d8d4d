# the shell: set -e stops at the first failure; || and ! keep going
anchorage run --rm workshop sh -c 'set -e; false || echo rescued; ! true; echo on; false; echo never'
echo status $?
