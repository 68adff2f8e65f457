# An ordinary conftest: a fixture, a marker, and a report hook that adds
# a section to each report without touching its outcome.
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a slow test")


@pytest.fixture
def numbers():
    return [1, 2, 3]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rep.sections.append(("note", "checked %s" % rep.when))
