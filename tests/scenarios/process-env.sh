# processes: the environment, with -e added
anchorage run -e GREETING=ahoy workshop sh -c 'echo $GREETING'
anchorage run workshop sh -c 'echo $HOME $PATH'
