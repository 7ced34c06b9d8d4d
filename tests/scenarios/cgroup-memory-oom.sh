# cgroups: memory, a hog past its limit is OOM-killed (137); one within it is not
anchorage run --rm --memory 64m workshop memhog 100m
echo status $?
anchorage run --rm --memory 64m workshop memhog 20m 0
echo status $?
