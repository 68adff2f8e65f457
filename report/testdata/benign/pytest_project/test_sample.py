import json
import pytest


def add(a, b):
    return a + b


@pytest.mark.parametrize("a,b,want", [(1, 2, 3), (-1, 1, 0), (10, 5, 15)])
def test_add(a, b, want):
    assert add(a, b) == want


def test_tmp_path(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"ok": True}))
    assert json.loads(p.read_text())["ok"]
