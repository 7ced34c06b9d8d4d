# signals and exits: a command the image lacks exits 127, with the shell's words
anchorage run workshop nosuch
echo status $?
