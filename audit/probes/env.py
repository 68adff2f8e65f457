# Another process of the host's, started by moat audit with a secret in its
# environment: can its environment be read? Reports the values found.
found = set()
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            for kv in open('/proc/%s/environ' % p, 'rb').read(1 << 20).split(b'\0'):
                if kv.startswith(b'MOAT_AUDIT_SECRET='):
                    found.add(kv.split(b'=', 1)[1].decode('latin1'))
        except Exception:
            pass
R['helper'] = tryread('/proc/%s/environ' % os.environ['HELPER_PID'], 16)[:12]
R['found'] = ','.join(sorted(found))
done()
