# Bounded: 1MiB to stdout under a limit of 64KiB; plain Python (see
# memory-bomb).
line = 'x' * 1023
for _ in range(1024):
    print(line)
