import helper
import helper2


def test_helper():
    assert helper.VALUE == 1


def test_helper2():
    assert helper2.VALUE == 1
