# Reach a TCP listener of moat audit's on the host (its loopback and its
# own address) and hand it a token: the listener is the witness.
import socket
def tcp(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, int(os.environ['PORT'])))
        s.sendall(os.environ['TOKEN'].encode() + b'\n')
        return 'ok'
    except Exception as e:
        return _e(e)
    finally:
        s.close()
for h in os.environ['HOSTS'].split(','):
    R[h] = tcp(h)
done()
