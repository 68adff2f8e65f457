# Bounded: at most 192MiB under a limit of 64MiB. Plain Python without
# imports, so that RestrictedPython lets it run: it is what RestrictedPython
# cannot stop, and only the layers under it can.
hog = []
stopped = ''
try:
    while len(hog) < 48:
        hog.append(b'm' * (4 << 20))
        print('at', len(hog) * 4, 'MiB', flush=True)
except MemoryError:
    stopped = 'MemoryError'
n = len(hog) * 4
hog = None
print('{"reached": "%d", "stopped_by": "%s"}' % (n, stopped))
