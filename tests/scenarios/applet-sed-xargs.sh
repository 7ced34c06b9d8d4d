# applets: sed (s///, -n, p, d, addresses) and xargs, which runs commands in the container
anchorage run --rm workshop sh -c 'sed -n "s/^root:x:\([0-9]*\).*/uid \1/p" /etc/passwd; seq 5 | sed "2,4d"; seq 3 | sed -n "\$p"; echo a.b | sed "s/\./ dot /g"'
anchorage run --rm workshop sh -c 'seq 3 | xargs echo n; echo /etc/hostname /etc/passwd | xargs -n 1 wc -l | cut -c1-2; echo x | xargs -I{} echo "<{}>"; echo y | xargs nosuch; echo status $?'
anchorage run --rm workshop sh -c 'ps -o pid,comm | sed -n "1p;2p"; help grep | head -n 1'
