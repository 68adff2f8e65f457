from .util import double  # noqa: F401
