"""A module of the project."""


def greet(name):
    return "hello " + name


class Counter:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1
        return self.n


assert greet("x") == "hello x"
