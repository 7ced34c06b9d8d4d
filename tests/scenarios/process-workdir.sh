# processes: the working directory starts at the root, and cd moves it
anchorage run --rm workshop pwd
anchorage run --rm workshop sh -c 'cd /etc && pwd && cd .. && pwd'
