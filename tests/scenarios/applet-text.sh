# applets: wc, head, tail, sort, uniq, cut, tr, seq, yes and printf in pipelines
anchorage run --rm workshop sh -c 'seq 10 | wc -l; wc -l /etc/passwd; cat /etc/passwd | wc; seq 100 | head -n 3; seq 100 | tail -n 2; yes | head -n 2'
anchorage run --rm workshop sh -c 'cut -d: -f1,7 /etc/passwd | sort -r; printf "b\na\nb\nc\n" | sort | uniq -c; seq 5 | sort -rn | head -n 1'
anchorage run --rm workshop sh -c 'echo hello | tr a-z A-Z; echo "a  b" | tr -s " "; seq -s, 5; printf "%s=%d\n" pids 20 mem 64; cut -c1-4 /etc/os-release | head -n 1'
