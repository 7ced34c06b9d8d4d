# the shell: ; and exit statuses, $? inside the container
anchorage run workshop sh -c 'false; echo $?; true; echo $?'
