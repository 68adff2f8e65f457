# Never prints what it finds: only a fingerprint (a hash of a directory's
# names or of a file's first bytes), which the audit compares with the
# host's own, so that a sandbox's home of its own (with moat's bait) is not
# taken for the host's.
import hashlib
def fp(p):
    try:
        if os.path.isdir(p):
            data = '\n'.join(sorted(os.listdir(p))).encode()
        else:
            with open(p, 'rb') as f:
                data = f.read(64)
        return 'ok:' + hashlib.sha256(data).hexdigest()
    except Exception as e:
        return _e(e)
for p in os.environ['SECRET_PATHS'].split(','):
    R[p] = fp(p)
done()
