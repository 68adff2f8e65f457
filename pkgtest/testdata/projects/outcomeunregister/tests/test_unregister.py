from unregister import add


def test_add():
    assert add(2, 2) == 4


def test_zero():
    assert add(1, 0) == 1


def test_more():
    assert add(1, 1) == 2
