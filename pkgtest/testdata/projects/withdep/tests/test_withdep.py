import withdep


def test_answer():
    assert withdep.answer() == 42
