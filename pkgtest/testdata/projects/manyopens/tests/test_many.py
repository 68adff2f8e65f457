import pytest

import manyopens


@pytest.mark.parametrize("i", range(300))
def test_roundtrip(tmp_path, i):
    for j in range(5):
        text = "example %d %d\n" % (i, j)
        assert manyopens.roundtrip(tmp_path / ("f%d.txt" % j), text) == text
