# Shared by every probe (and moattest's adversarial cases): helpers that
# never raise and describe an outcome as "ok", "read:…", "err:ERRNAME".
import errno, json, os, sys
def _e(e):
    if isinstance(e, OSError) and e.errno:
        return 'err:' + errno.errorcode.get(e.errno, str(e.errno))
    return 'err:' + type(e).__name__
def tryread(p, n=64):
    try:
        with open(p, 'rb') as f:
            return 'read:' + f.read(n).decode('latin1')
    except Exception as e:
        return _e(e)
def trywrite(p, data='x'):
    try:
        with open(p, 'w') as f:
            f.write(data)
        return 'ok'
    except Exception as e:
        return _e(e)
def trylist(p):
    try:
        return 'list:' + ','.join(sorted(os.listdir(p)))
    except Exception as e:
        return _e(e)
def attempt(fn, *a):
    try:
        r = fn(*a)
        return 'ok' if r is None else 'ok:' + str(r)
    except Exception as e:
        return _e(e)
def tryopen(p, flags):
    """Opens and closes at once: the permission is the finding, nothing is written."""
    try:
        os.close(os.open(p, flags | getattr(os, 'O_NOCTTY', 0)))
        return 'ok'
    except Exception as e:
        return _e(e)
R = {}
def done():
    print(json.dumps(R))
