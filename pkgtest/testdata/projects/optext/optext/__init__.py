# The package proper: imports fine without its optional C extension.
def answer():
    return 42
