# Reach moat's audit hook's state through its frames: a finalizer, run
# by a collection that an allocation inside the hook starts, walks from
# its caller's frame (the hook's) to the hook's locals.
import os
import sys
import tempfile


class Grab:
    found = False

    def __init__(self):
        self.me = self

    def __del__(self):
        f = sys._getframe(1)
        while f is not None:
            if any(isinstance(v, dict) and "budget" in v for v in f.f_locals.values()):
                Grab.found = True
            f = f.f_back


d = tempfile.mkdtemp()
for i in range(3000):
    Grab()
    with open(os.path.join(d, "f%d" % (i % 50)), "w") as fh:
        fh.write("x")
print("found:", Grab.found)
