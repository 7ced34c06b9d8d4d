# processes: what /proc/stat accounts for, by the names of its lines
anchorage run --rm workshop sh -c 'grep -o "^[a-z_]*" /proc/stat | sort -u'
