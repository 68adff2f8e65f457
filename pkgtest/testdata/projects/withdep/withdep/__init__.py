from helperdep import ANSWER


def answer():
    return ANSWER
