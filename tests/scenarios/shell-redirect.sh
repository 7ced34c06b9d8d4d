# the shell: redirections, > and >> into the writable layer
anchorage run --rm workshop sh -c 'echo a > /f; echo b >> /f; cat /f; echo c 2>&1 >/dev/null'
