# signals: a shell as PID 1 that traps nothing ignores SIGTERM from inside
anchorage run --rm workshop sh -c 'kill -TERM $$; echo alive'
anchorage run --rm workshop sh -c 'sh -c "kill -TERM \$\$"; echo child $?'
