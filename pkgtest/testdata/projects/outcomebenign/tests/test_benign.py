# Outcomes that pytest's own plugins turn into something else than the
# test's exception says (xfail, xpass, skips, a unittest case), all of
# which the witness must see as the package reports them.
import sys
import unittest

import pytest

from benign import add, div


@pytest.mark.parametrize("a,b,want", [(1, 1, 2), (2, 3, 5), pytest.param(0, 0, 0, id="zeros")])
def test_add(a, b, want):
    assert add(a, b) == want


def test_fixture(numbers):
    assert sum(numbers) == 6


@pytest.mark.xfail(reason="division by zero", raises=ZeroDivisionError)
def test_div_zero():
    div(1, 0)


@pytest.mark.xfail(reason="not strict")
def test_xpass():
    assert add(1, 1) == 2


def test_imperative_xfail():
    pytest.xfail("known")


@pytest.mark.skip(reason="not yet")
def test_skipped():
    assert False


@pytest.mark.skipif(sys.version_info > (2,), reason="old Python only")
def test_skipif():
    assert False


def test_skip_inside():
    pytest.skip("nothing to do here")


@pytest.mark.slow
@pytest.mark.parametrize("n", range(3))
def test_slow(n):
    assert n < 3


class TestCase(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(add(2, 2), 4)

    @unittest.expectedFailure
    def test_expected(self):
        self.assertEqual(add(2, 2), 5)

    @unittest.skip("unittest skip")
    def test_unittest_skip(self):
        pass
