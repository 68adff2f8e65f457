# Bounded: 20 s of CPU under a timeout of 2 s; plain Python (see
# memory-bomb).
import time
end = time.monotonic() + 20
while time.monotonic() < end:
    pass
print('{"ended": "by itself"}')
