# processes: the environment, with -e added
anchorage run --rm -e GREETING=ahoy workshop sh -c 'echo $GREETING'
anchorage run --rm workshop sh -c 'echo $HOME $PATH'
