# the shell: variables, $(...), $((...)), ${...}, globbing, set -e
anchorage run --rm workshop sh -c 'x=5; echo $x; y=$(echo sub); echo "$y" `echo back` $((x * (2 + 1)))'
anchorage run --rm workshop sh -c 'f=archive.tar.gz; echo ${f%.*} ${f%%.*} ${f#*.} ${f##*.} ${#f} ${unset:-default}'
anchorage run --rm workshop sh -c 'cd /bin && echo s*; echo /bin/[ck]*; echo /nonexistent/*'
anchorage run --rm workshop sh -c 'set -- a "b c"; echo $#; for w in "$@"; do echo "<$w>"; done'
anchorage run --rm workshop sh -c 'set -e; echo before; false; echo never'
echo status $?
anchorage run --rm workshop sh -c 'echo ${missing?is not set}; echo never'
echo status $?
