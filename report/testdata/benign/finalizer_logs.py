# Objects in reference cycles whose __del__ logs (asyncio's "Future
# exception was never retrieved", tornado's), collected by a GC that an
# allocation inside moat's audit hook starts.
import logging, os, tempfile
logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))
log = logging.getLogger("gc")
class Fut:
    def __init__(self):
        self.me = self
    def __del__(self):
        log.info("never retrieved")
d = tempfile.mkdtemp()
for i in range(3000):
    Fut()
    with open(os.path.join(d, "f%d" % (i % 50)), "w") as f:
        f.write("x")
print("ok")
