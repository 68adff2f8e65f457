# Is there a route off the machine? A UDP connect sends nothing, it only
# asks the kernel for a route; a name lookup asks the host's resolver.
import socket
def route(addr, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.connect(addr)
        return 'ok'
    except Exception as e:
        return _e(e)
    finally:
        s.close()
R['route4'] = route(('198.51.100.1', 9))
R['route6'] = route(('2001:db8::1', 9), socket.AF_INET6)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
R['udp_send'] = attempt(s.sendto, b'moat-audit', ('198.51.100.1', 9))
done()
