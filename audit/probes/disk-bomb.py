# Bounded: at most 24MiB in 2MiB files in the run's own writable space
# (working directory and TMPDIR), under a limit of 8MiB; removed again.
chunk = b'd' * (256 << 10)
total, files = 0, []
try:
    for i in range(12):
        d = os.getcwd() if i % 2 == 0 else os.environ.get('TMPDIR', '/tmp')
        p = os.path.join(d, 'moat-audit-fill-%s-%d' % (os.environ['MARK'], i))
        files.append(p)
        with open(p, 'wb') as f:
            for _ in range(8):
                f.write(chunk)
                f.flush()
                total += len(chunk)
except Exception as e:
    R['stopped_by'] = _e(e)
R['total'] = str(total)
for p in files:
    try:
        os.unlink(p)
    except Exception:
        pass
done()
