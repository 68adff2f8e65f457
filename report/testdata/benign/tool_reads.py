# A tool that reads a planted file by itself, as documented: wget reads
# ~/.netrc for the host it fetches from. It is not theft.
import shutil, subprocess

wget = shutil.which("wget")
if wget:
    subprocess.run([wget, "-q", "-O", "/dev/null", "http://203.0.113.7/index.html"])
print("wget", bool(wget))
