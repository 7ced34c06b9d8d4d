# layers: what rm loses, a volume keeps
anchorage run -v keep:/data workshop sh -c 'echo kept > /data/f'
anchorage run -v keep:/data workshop cat /data/f
