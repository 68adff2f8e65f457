def double(x):
    """Twice x."""
    return 2 * x


LOOKUP = {k: double(k) for k in range(5)}
