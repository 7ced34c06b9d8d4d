# the shell: read from a here-document, and a while loop over lines
anchorage run --rm workshop sh -c 'while read a b; do echo "$b-$a"; done <<END
1 one
2 two
END'
