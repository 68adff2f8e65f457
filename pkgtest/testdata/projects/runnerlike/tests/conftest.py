import pytest


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("hello\n")
    return p
