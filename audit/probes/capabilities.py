import socket
st = {}
for line in open('/proc/self/status'):
    k, _, v = line.partition(':')
    st[k] = v.strip()
for k in ['CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs', 'Seccomp']:
    R[k] = st.get(k, '')
R['euid'] = str(os.geteuid())
# Setting the host name to what it already is changes nothing, and needs
# CAP_SYS_ADMIN over the UTS namespace it is in.
R['sethostname'] = attempt(socket.sethostname, socket.gethostname())
done()
