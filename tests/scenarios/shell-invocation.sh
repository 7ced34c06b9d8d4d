# the shell: sh's own options (-e, -x, -o, +e, -s, -c), and a script's #! line run by the kernel, with its one argument and the script's path
anchorage run -d --name a workshop sleep 1000
anchorage exec a sh -c 'exec 2>&1; sh -e -c "false; echo not here"; echo status $?; sh -c -x "echo traced"; sh -ec "echo \$-"; sh -o errexit -c "echo \$-; false"; echo status $?; sh +e -c "false; echo goes on"; sh -z -c true; echo status $?; echo "echo in \$# \$2 \$-" | sh -es a b'
anchorage exec a sh -c 'exec 2>&1; cd /tmp; printf "#!/bin/sh -e\nfalse\necho not here\n" > s; chmod +x s; ./s; echo status $?; printf "#!/bin/sh\necho args: \"\$0\" \"\$@\"\n" > t; chmod +x t; ./t a "b c"; printf "#!/nosuch/sh\n" > u; chmod +x u; ./u; echo status $?; printf "#!/tmp/t x\n" > v; chmod +x v; ./v y'
anchorage rm -f a
