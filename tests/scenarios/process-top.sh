# processes: top -b -n 1 in a container shows BusyBox's summary lines and columns, the spinner first, a zombie as [name]; the figures themselves are the host's and left out
anchorage run -d --name a workshop sh -c 'sleep 1000 & memhog 10M 1000 & cpuburn & sleep 1 & exec sleep 1000'
sleep 2
anchorage exec a sh -c 'top -b -n 1 > /tmp/top; echo status $?; sed -n 1p /tmp/top | sed "s/[0-9]*K/NK/g"; sed -n 2p /tmp/top | sed "s/ *[0-9]*%/ N%/g"; cut -c1-14 /tmp/top | sed -n 3p; sed -n 4p /tmp/top; sed -n 5p /tmp/top | cut -c1-24,42-; sed 1,4d /tmp/top | cut -c1-24,42- | sort -n; tail -n 1 /tmp/top | wc -c'
anchorage exec a sh -c 'top -bH -n1 | sed 1,4d | cut -c1-24,42- | sort -n'
anchorage exec a sh -c 'exec 2>&1; top -b -n x; echo status $?; top -z; echo status $?'
anchorage rm -f a
