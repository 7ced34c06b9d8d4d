# the shell: functions, case and arithmetic
anchorage run --rm workshop sh -c 'f() { echo "f:$1:$#"; }; f a b; case x.txt in *.txt) echo text;; *) echo other;; esac; echo $((6*7))'
