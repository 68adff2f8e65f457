# Bounded: at most 96 children, each asleep, under a limit of 32 processes;
# the probe kills its children itself before it reports.
import signal, time
kids = []
err = ''
for i in range(96):
    try:
        pid = os.fork()
    except Exception as e:
        err = _e(e)
        break
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    kids.append(pid)
R['forked'] = str(len(kids))
R['stopped_by'] = err
for pid in kids:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except Exception:
        pass
done()
