# A process of the host's (moat audit's helper): can it be seen and
# signalled? Signal 0 and SIGCONT change nothing.
import signal
pid = int(os.environ['HELPER_PID'])
R['kill0'] = attempt(os.kill, pid, 0)
R['sigcont'] = attempt(os.kill, pid, signal.SIGCONT)
R['visible'] = str(os.path.exists('/proc/%d' % pid))
R['procs'] = str(sum(1 for p in os.listdir('/proc') if p.isdigit()))
done()
