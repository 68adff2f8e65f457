# A daemon (double fork, setsid, SIGTERM and SIGHUP ignored) whose parent
# exits at once: moat audit looks for it on the host after the run, and
# kills it if it is there. It would end by itself after 30 s anyway.
import signal
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for fd in (0, 1, 2):
            try:
                os.close(fd)
            except OSError:
                pass
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(30)', os.environ['MARK']])
    os._exit(0)
os.waitpid(pid, 0)
R['spawned'] = 'yes'
done()
