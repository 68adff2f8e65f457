# A test server on loopback and a client that connects to it by name, as
# requests' and urllib3's suites do: socket.connect(("localhost", port))
# resolves the name inside the call, so Python's audit hook names
# "localhost" and the kernel 127.0.0.1.
import socket, threading

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]

def serve():
    c, _ = srv.accept()
    c.sendall(b"hello")
    c.close()

t = threading.Thread(target=serve)
t.start()
cli = socket.socket()
cli.connect(("localhost", port))
print(cli.recv(5).decode())
cli.close()
t.join()
