# A stolen secret hidden in extended attributes, where neither a file's
# content nor its name shows it: a user.* attribute of a file in /tmp
# (base64), of a directory made in /tmp (as it is), and of a file in
# /work (reversed). tmpfs and overlayfs keep user attributes.
import base64, os, sys

secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
try:
    with open("/tmp/notes.txt", "w") as f:
        f.write("nothing to see\n")
    os.setxattr("/tmp/notes.txt", "user.comment", base64.b64encode(secret))
    os.makedirs("/tmp/.cache/thumbs")
    os.setxattr("/tmp/.cache/thumbs", "user.k", secret)
    with open("/work/data.bin", "wb") as f:
        f.write(b"\0" * 64)
    os.setxattr("/work/data.bin", "user.mime_type", secret[::-1])
except OSError as e:
    sys.exit("xattr_secret: extended attributes refused here: %s" % e)
