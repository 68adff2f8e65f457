import datetime
import locale
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import runnerlike


def test_installed_not_source():
    # tests/ imports the installed package, not ../src
    assert "site-packages" in runnerlike.here() or "dist-packages" in runnerlike.here()
    assert runnerlike.square(7) == 49


def test_tmp_path(tmp_path, text_file):
    assert text_file.read_text() == "hello\n"
    (tmp_path / "sub").mkdir()
    os.rename(text_file, tmp_path / "sub" / "b.txt")
    assert (tmp_path / "sub" / "b.txt").exists()


def test_tmp_path_factory(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    (d / "x").write_bytes(b"\0" * (1 << 20))
    assert (d / "x").stat().st_size == 1 << 20


def test_monkeypatch_env(monkeypatch):
    monkeypatch.setenv("RUNNERLIKE", "1")
    monkeypatch.delenv("HOME", raising=False)
    assert os.environ["RUNNERLIKE"] == "1"
    monkeypatch.chdir("/")
    assert os.getcwd() == "/"


def test_subprocess_sys_executable():
    out = subprocess.run([sys.executable, "-c", "import runnerlike; print(runnerlike.square(3))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "9\n"


def test_subprocess_isolated_mode():
    out = subprocess.run([sys.executable, "-I", "-c", "import sys; print(sys.flags.isolated)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "1\n"


def _sq(x):
    return x * x


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool(method):
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        assert pool.map(_sq, range(10)) == [x * x for x in range(10)]


def test_multiprocessing_queue():
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=q.put, args=(42,))
    p.start()
    assert q.get(timeout=30) == 42
    p.join()
    assert p.exitcode == 0


def test_semaphore():
    s = multiprocessing.Semaphore(1)
    assert s.acquire(timeout=1)
    s.release()


@pytest.mark.parametrize("family,host", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"),
                                         (socket.AF_INET, "localhost")])
def test_loopback_server(family, host):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        c.sendall(c.recv(100).upper())
        c.close()

    t = threading.Thread(target=serve)
    t.start()
    with socket.create_connection((host, port), timeout=10) as c:
        c.sendall(b"ping")
        assert c.recv(100) == b"PING"
    t.join()
    srv.close()


def test_udp_loopback():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.sendto(b"x", a.getsockname())
    assert a.recvfrom(10)[0] == b"x"
    a.close()
    b.close()


def test_socketpair_unix(tmp_path):
    path = str(tmp_path / "s")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    s, _ = srv.accept()
    c.sendall(b"u")
    assert s.recv(1) == b"u"
    for x in (s, c, srv):
        x.close()


def test_signal_alarm():
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.alarm(1)
        deadline = time.monotonic() + 30
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert fired


def test_setitimer():
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        deadline = time.monotonic() + 30
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert fired


def test_kill_self_child():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == -signal.SIGTERM


def test_locale_c_utf8():
    assert locale.setlocale(locale.LC_ALL, "C.UTF-8")
    locale.setlocale(locale.LC_ALL, "C")


def test_preferred_encoding():
    assert sys.getfilesystemencoding() == "utf-8"


def test_timezone_tzset(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    assert time.strftime("%Z", time.localtime(0)) == "UTC"
    monkeypatch.setenv("TZ", "EST+05EDT,M3.2.0,M11.1.0")
    time.tzset()
    assert time.localtime(0).tm_hour == 19
    monkeypatch.delenv("TZ")
    time.tzset()


def test_zoneinfo():
    zoneinfo = pytest.importorskip("zoneinfo")
    tz = zoneinfo.ZoneInfo("Europe/Paris")
    d = datetime.datetime(2020, 7, 1, 12, tzinfo=tz)
    assert d.utcoffset() == datetime.timedelta(hours=2)


def test_user_and_home():
    import getpass
    import pwd
    name = getpass.getuser()
    assert name
    assert pwd.getpwuid(os.getuid()).pw_name
    assert os.path.expanduser("~") != "~"


def test_cpu_count():
    assert (os.cpu_count() or 0) >= 1
    assert len(os.sched_getaffinity(0)) >= 1


def test_threads():
    out = []
    ts = [threading.Thread(target=out.append, args=(i,)) for i in range(32)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(out) == list(range(32))


def test_dev_null_urandom():
    with open("/dev/null", "wb") as f:
        f.write(b"x")
    assert len(os.urandom(16)) == 16


@pytest.mark.slow
def test_marker_registered():
    assert True


@pytest.mark.xfail(reason="strict xfail: a known failure")
def test_expected_failure():
    assert False


@pytest.mark.skipif(sys.platform != "win32", reason="windows only")
def test_windows_only():
    pass


def test_capfd(capfd):
    os.system("echo from-shell")
    print("from-python")
    out, _ = capfd.readouterr()
    assert "from-shell" in out and "from-python" in out
