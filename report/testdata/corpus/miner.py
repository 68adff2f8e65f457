# A crypto-miner-like CPU burn: hash forever.
import hashlib
nonce = 0
while True:
    hashlib.sha256(b"block" + nonce.to_bytes(8, "little")).digest()
    nonce += 1
