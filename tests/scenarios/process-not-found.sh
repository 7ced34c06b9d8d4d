# signals and exits: a command the image lacks exits 127, with the shell's words
anchorage run --rm workshop nosuch
echo status $?
