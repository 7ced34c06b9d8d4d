# layers: what rm loses, a volume keeps
anchorage run --rm -v keep:/data workshop sh -c 'echo kept > /data/f'
anchorage run --rm -v keep:/data workshop cat /data/f
