"""A small package laid out the modern way (src/, hatchling)."""
import os

__version__ = "1.0.0"


def square(x):
    return x * x


def here():
    return os.path.dirname(os.path.abspath(__file__))
