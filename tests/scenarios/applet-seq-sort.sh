# applets: seq, sort -n -r, uniq -c, head and tail in a pipeline
anchorage run --rm workshop sh -c 'seq 10 | sort -nr | head -3; printf "b\na\nb\n" | sort | uniq -c; seq 5 | tail -2'
