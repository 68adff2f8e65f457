# A test suite that shells out to echo and a few core utilities.
import subprocess
assert subprocess.run("echo hello | tr a-z A-Z", shell=True, capture_output=True, text=True).stdout == "HELLO\n"
assert subprocess.run(["echo", "ok"], capture_output=True, text=True).stdout == "ok\n"
print("ok")
