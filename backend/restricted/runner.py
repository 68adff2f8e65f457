# moat's RestrictedPython runner: argv is MODE TARGET ARGS..., MODE "c"
# (TARGET is code) or "f" (TARGET is a file in the working directory). It
# compiles the program with compile_restricted and runs it with moat's
# policy (docs/restricted.md); refusals are one line on stderr after the
# marker, exit 126. Nothing of the program runs before the policy is set.
import sys
sys.dont_write_bytecode = True
import os
_cwd = os.getcwd()
# The working directory is the program's: nothing may be imported from it
# (a RestrictedPython.py there would replace the policy).
sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != _cwd]
import builtins, json, traceback, types

MARK = 'moat-restricted:'


def _say(kind, **kw):
    kw['kind'] = kind
    sys.stderr.write(MARK + json.dumps(kw) + '\n')
    sys.stderr.flush()


try:
    from RestrictedPython import compile_restricted_exec, safe_builtins, limited_builtins
    from RestrictedPython.Guards import (safer_getattr, guarded_iter_unpack_sequence,
                                         guarded_unpack_sequence, full_write_guard)
    from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
except Exception as e:  # missing, or too old for this Python
    _say('missing', error='%s: %s' % (type(e).__name__, e))
    os._exit(125)

# Modules the program may import, as read-only copies holding the module's
# public attributes that are not modules themselves (json.codecs would
# otherwise lead to codecs.open and codecs.sys.modules['os']).
ALLOWED_MODULES = ('math', 'cmath', 'json', 're', 'random', 'itertools', 'functools',
                   'collections', 'datetime', 'decimal', 'fractions', 'statistics',
                   'heapq', 'bisect', 'time', 'textwrap', 'enum', 'dataclasses')
# Left out on purpose: os, sys, io, subprocess, socket, ctypes, importlib,
# builtins, operator (attrgetter('__class__') passes every attribute
# guard), string (string.Formatter reads attributes past the guards), types,
# inspect, gc, pickle, codecs, pathlib, shutil, tempfile, threading.


class Denied(ImportError):
    """A refusal of the policy at run time."""


_proxies = {}


def _proxy(name):
    if name not in _proxies:
        mod = __import__(name)
        p = types.ModuleType(name)
        for k in dir(mod):
            if k.startswith('_'):
                continue
            v = getattr(mod, k)
            if isinstance(v, types.ModuleType):
                continue
            setattr(p, k, v)
        _proxies[name] = p
    return _proxies[name]


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level != 0 or name not in ALLOWED_MODULES:
        raise Denied('import of %r is not allowed by moat\'s RestrictedPython policy' % name)
    return _proxy(name)


class _Print:
    def __init__(self, _getattr_=None):
        pass

    def write(self, text):
        sys.stdout.write(text)

    def __call__(self):
        return ''

    def _call_print(self, *objects, **kw):
        if kw.get('file') is not None:
            raise Denied('print(file=...) is not allowed by moat\'s RestrictedPython policy')
        kw.pop('file', None)
        print(*objects, **kw)


def _inplacevar(op, x, y):
    ops = {'+=': lambda: x + y, '-=': lambda: x - y, '*=': lambda: x * y, '/=': lambda: x / y,
           '//=': lambda: x // y, '%=': lambda: x % y, '**=': lambda: x ** y, '<<=': lambda: x << y,
           '>>=': lambda: x >> y, '|=': lambda: x | y, '^=': lambda: x ^ y, '&=': lambda: x & y,
           '@=': lambda: x @ y}
    if op not in ops:
        raise Denied('operator %s is not allowed' % op)
    return ops[op]()


EXTRA_BUILTINS = ('dict', 'list', 'set', 'frozenset', 'enumerate', 'sum', 'min', 'max', 'any', 'all',
                  'map', 'filter', 'reversed', 'iter', 'next', 'object', 'format', 'bin', 'print')


def main():
    mode, target, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == 'c':
        src, filename, argv0 = target, '<code>', '-c'
    else:
        try:
            with open(target, 'rb') as f:
                src = f.read().decode('utf-8')
        except (OSError, UnicodeDecodeError) as e:
            _say('error', error='%s: %s' % (target, e))
            os._exit(2)
        filename = argv0 = target
    sys.argv[:] = [argv0] + args
    try:
        r = compile_restricted_exec(src, filename=filename)
    except SyntaxError as e:
        r = None
        errors = ['Line %s: SyntaxError: %s' % (e.lineno, e.msg)]
    else:
        errors = list(r.errors)
    if errors:
        _say('refused', errors=errors[:20])
        os._exit(126)
    b = dict(safe_builtins)
    b.update(limited_builtins)
    for k in EXTRA_BUILTINS:
        b[k] = getattr(builtins, k)
    b['getattr'] = safer_getattr
    b['__import__'] = _import
    g = {
        '__builtins__': b, '__name__': '__main__', '__metaclass__': type,
        '_getattr_': safer_getattr, '_getitem_': default_guarded_getitem,
        '_getiter_': default_guarded_getiter, '_iter_unpack_sequence_': guarded_iter_unpack_sequence,
        '_unpack_sequence_': guarded_unpack_sequence, '_write_': full_write_guard,
        '_inplacevar_': _inplacevar, '_print_': _Print, '_apply_': lambda f, *a, **kw: f(*a, **kw),
    }
    try:
        exec(r.code, g)
    except SystemExit:
        raise
    except BaseException as e:
        line = 0
        for fr, ln in traceback.walk_tb(e.__traceback__):
            if fr.f_code.co_filename == filename:
                line = ln
        denied = isinstance(e, Denied)
        if isinstance(e, NameError) and getattr(e, 'name', None) and hasattr(builtins, e.name) and e.name not in b:
            denied, e = True, Denied('builtin %s is not available under moat\'s RestrictedPython policy' % e.name)
        if denied:
            _say('refused', errors=['Line %d: %s' % (line, e)])
            os._exit(126)
        tb = traceback.extract_tb(e.__traceback__)
        tb = [f for f in tb if f.filename == filename] or tb[-1:]
        sys.stderr.write('Traceback (most recent call last):\n' + ''.join(traceback.format_list(tb)) +
                         ''.join(traceback.format_exception_only(type(e), e)))
        sys.stderr.flush()
        os._exit(1)


main()
