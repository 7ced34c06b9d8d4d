# processes: /proc/loadavg holds five fields, the last the latest pid of the reader's pid namespace (what is runnable depends on the whole host); /proc/stat a line for all CPUs and one each
anchorage run --rm workshop sh -c 'exec 2>&1; wc -w < /proc/loadavg; cut -d " " -f 5 /proc/loadavg; grep -c "^cpu" /proc/stat; cut -c1-5 /proc/stat | head -3'
