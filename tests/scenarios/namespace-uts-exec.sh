# namespaces: uts: hostname set in one exec is seen by the next
anchorage run -d --name u --hostname first workshop sleep 1000 >/dev/null
anchorage exec u hostname
anchorage exec u hostname second
anchorage exec u hostname
anchorage rm -f u >/dev/null
