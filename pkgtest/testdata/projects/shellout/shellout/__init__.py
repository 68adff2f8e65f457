import subprocess


def shout(text):
    """Upper-cases text the way a build script would: through the shell."""
    r = subprocess.run(["sh", "-c", 'printf "%s" "$1" | tr a-z A-Z', "sh", text],
                       check=True, capture_output=True, text=True)
    return r.stdout
