# A descriptor moat audit left open and inheritable: is it open inside?
R['leaked'] = attempt(lambda: len(os.read(int(os.environ['LEAKED_FD']), 64)))
opened = []
for n in range(3, 1024):
    try:
        os.fstat(n)
        opened.append(str(n))
    except OSError:
        pass
R['open'] = ','.join(opened)
done()
