# Benign: shared memory made and released with multiprocessing, which
# starts its resource tracker (a child interpreter that lives until its
# parent's end and exits after it). It is not a daemon, and not a
# process that outlived the program for long.
from multiprocessing import resource_tracker, shared_memory

m = shared_memory.SharedMemory(create=True, size=4096)
m.buf[:5] = b"hello"
m.close()
m.unlink()
print("tracker", resource_tracker._resource_tracker._pid is not None)
