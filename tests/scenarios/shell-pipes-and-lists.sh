# the shell: pipes (each part a child shell, $$ still the shell's), && || ! and $?
anchorage run --rm workshop sh -c 'echo one | cat; echo $$ | cat; true && echo and; false || echo or; ! true; echo not $?'
anchorage run --rm workshop sh -c 'echo piped | { read v; echo "read $v"; }; echo x | read v; echo "after [$v]"'
anchorage run --rm workshop sh -c 'cat /etc/passwd | cat | cat >/dev/null; echo status $?; cat /nonexistent | cat; echo status $?'
