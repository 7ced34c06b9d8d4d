# applets: date, nproc, free and du read the kernel's clock, CPUs, memory and the image's blocks
anchorage run --rm workshop sh -c 'exec 2>&1; date -u -d @0; date -d "2026-03-04 05:06:07" "+%F %T %s %a %j"; date -r /etc/passwd -I; date -d 24:00; echo status $?; date -R -d @1767225600'
anchorage run --rm --cpus 0.5 workshop sh -c 'exec 2>&1; nproc; nproc --all; nproc --ignore=1; cat /sys/devices/system/cpu/online; free | head -n 1; free -m | cut -c1-7'
anchorage run --rm workshop sh -c 'exec 2>&1; du -a /etc | sort -k 2; du -s /etc /home; du -sh /etc; echo 12345 > /tmp/f; du -ab /tmp; du /nope; echo status $?; stat -c "%n %s %b" /proc/uptime /sys/devices/system/cpu/online /sys/devices/system/cpu'
