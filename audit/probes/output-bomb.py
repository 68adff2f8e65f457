# Bounded: 1MiB to stdout under a limit of 64KiB; plain Python (see
# memory-bomb; a while loop, as RestrictedPython's range stops at 1000).
line = 'x' * 1023
n = 0
while n < 1024:
    print(line)
    n += 1
