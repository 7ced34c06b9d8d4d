# the shell: ; and exit statuses, $? inside the container
anchorage run --rm workshop sh -c 'false; echo $?; true; echo $?'
