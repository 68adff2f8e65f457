# Socket kinds a sandbox refuses: each is made and closed at once.
import socket
def mk(*a):
    try:
        socket.socket(*a).close()
        return 'ok'
    except Exception as e:
        return _e(e)
R['raw_icmp'] = mk(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
R['packet'] = mk(17, socket.SOCK_RAW, 0)
R['vsock'] = mk(40, socket.SOCK_STREAM)
R['netlink_uevent'] = mk(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)
R['alg'] = mk(38, socket.SOCK_SEQPACKET)
done()
