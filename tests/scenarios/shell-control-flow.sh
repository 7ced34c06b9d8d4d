# the shell: if, for, while, until, case, functions, break and continue
anchorage run --rm workshop sh -c 'for i in 1 2 3; do echo i=$i; done; if [ -d /proc ]; then echo proc; else echo none; fi'
anchorage run --rm workshop sh -c 'n=0; while [ $n -lt 3 ]; do n=$((n+1)); done; echo n=$n; until [ $n -eq 0 ]; do n=$((n-1)); done; echo n=$n'
anchorage run --rm workshop sh -c 'case $HOSTNAME in ????????????) echo twelve;; *) echo other;; esac; greet() { echo "hello $1"; return 4; }; greet box; echo $?'
anchorage run --rm workshop sh -c 'for i in a b c; do [ $i = b ] && continue; [ $i = c ] && break; echo $i; done; echo done'
