# The test phase's pytest, run as `python -c THIS ARGS...`: pytest's own
# console_main with one plugin registered before any of the package's
# code loads (conftest.py, pytest11 entry points, -p), a witness of the
# outcomes. Lines that hold only a comment are taken out before it runs
# (witnessCode): the package can read its own command line, and nothing
# in what is left names the tester.
#
# What it records, through the audit hook's channel (sys.audit, whose
# event the hook sends out as it happens: nothing the package does later
# takes a record back), never to a file:
#   start     once, when it is registered
#   failed    a test that pytest's own plugins report failed, logged
#             failed (once a test; a rerun that passed is not one)
#   changed   one they report failed, logged passed or skipped
#   unseen    a report logged that the witness never saw made
#   end       once, at the session's end: the counts and exit status
# "What pytest's own plugins report" is the hook pytest_runtest_makereport
# called again for the same item and call with only the plugins that
# were registered before the witness (pytest's built-in ones): a package
# hook that returns another report, or edits the one made, is left out.
# The test's exception is taken where the call raised it (the innermost
# wrapper of pytest_runtest_call), so a wrapper that takes it out of the
# call before the report is made does not hide it either. (A later
# plugin is left out by its object; pluggy 1.1 and later leave out only
# those with an attribute of the hook's name, so there an implementation
# registered under another name, specname=, stays in.) Everything
# runs in the package's own process: a package that studies the witness
# can still forge its records; removing it (unregister, a replaced hook)
# leaves the records missing, which the host reads as a finding.
import os
import sys


def _main():
    audit = sys.audit
    getpid = os.getpid
    import copy

    import pytest

    def send(what, name, detail):
        try:
            audit("pytest.runtest.report", what, "%s" % (name,), detail)
        except Exception:
            pass

    class Reports:
        def __init__(self):
            self.own = None
            self.key = None
            self.raised = {}
            self.pre = {}
            self.made = set()
            self.logged = set()
            self.failed = set()
            self.phase_failed = set()
            self.cases = 0
            self.counts = {"failed": 0, "changed": 0, "unseen": 0, "workers": 0}
            self.sent = {"failed": 0, "changed": 0, "unseen": 0}
            self.ended = False

        def note(self, what, name, detail):
            self.counts[what] += 1
            if self.sent[what] < 100:
                self.sent[what] += 1
                send(what, name, detail)

        @pytest.hookimpl(tryfirst=True)
        def pytest_plugin_registered(self, plugin, manager):
            if plugin is self and self.own is None:
                self.pm = manager
                self.keep = list(manager.get_plugins())
                self.own = set(map(id, self.keep))
                self.subset = manager.subset_hook_caller
                send("start", "", "pid %d" % getpid())

        @pytest.hookimpl(hookwrapper=True, trylast=True)
        def pytest_runtest_call(self, item):
            outcome = yield
            ei = outcome.excinfo
            self.raised[id(item)] = ei[1] if ei else None

        def made_by_pytest(self, item, call):
            raised = self.raised.pop(id(item), None) if call.when == "call" else None
            if raised is not None and (call.excinfo is None or call.excinfo.value is not raised):
                call = copy.copy(call)
                call.excinfo = pytest.ExceptionInfo.from_exc_info((type(raised), raised, raised.__traceback__))
            later = [p for p in self.pm.get_plugins() if id(p) not in self.own or p is self]
            key = frozenset(map(id, later))
            if key != self.key:
                # pluggy keeps every subset caller it makes until a plugin
                # leaves: one for each set of plugins, not one a test.
                self.key, self.caller = key, self.subset("pytest_runtest_makereport", later)
            saved = item.__dict__.get("_excinfo")
            if type(saved) is list:
                saved = list(saved)
            try:
                return self.caller(item=item, call=call).outcome
            except BaseException:
                return None
            finally:
                if type(saved) is list:
                    item._excinfo = saved

        @pytest.hookimpl(hookwrapper=True, tryfirst=True)
        def pytest_runtest_makereport(self, item, call):
            pre = self.made_by_pytest(item, call)
            yield
            q = self.pre.setdefault((item.nodeid, call.when), [])
            if len(q) < 64:
                q.append(pre)
            self.made.add(item.nodeid)

        @pytest.hookimpl(trylast=True)
        def pytest_runtest_logreport(self, report):
            nodeid, when, final = report.nodeid, report.when, report.outcome
            if nodeid not in self.logged:
                self.logged.add(nodeid)
                self.cases += 1
            elif when == "teardown" and final == "failed" and nodeid in self.phase_failed:
                self.cases += 1
            if final == "failed":
                self.phase_failed.add(nodeid)
            q = self.pre.get((nodeid, when))
            if not q:
                if getattr(report, "node", None) is not None:
                    self.counts["workers"] += 1
                else:
                    self.note("unseen", nodeid, "%s %s" % (when, final))
                return
            pre = q.pop(0)
            if pre != "failed":
                return
            if final == "failed" and nodeid not in self.failed:
                self.failed.add(nodeid)
                self.note("failed", nodeid, when)
            elif final in ("passed", "skipped"):
                self.note("changed", nodeid, "%s failed, logged %s" % (when, final))

        @pytest.hookimpl(trylast=True)
        def pytest_collectreport(self, report):
            if report.outcome in ("failed", "skipped"):
                self.cases += 1

        @pytest.hookimpl(trylast=True)
        def pytest_internalerror(self):
            self.cases += 1

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(self, session):
            if self.ended:
                return
            self.ended = True
            c = self.counts
            send("end", "", "exitstatus=%d testsfailed=%d cases=%d made=%d failed=%d changed=%d unseen=%d workers=%d" % (
                int(session.exitstatus), session.testsfailed, self.cases, len(self.made), len(self.failed),
                c["changed"], c["unseen"], c["workers"]))

    main = os.path.join(os.path.dirname(pytest.__file__), "__main__.py")
    if os.path.isfile(main):
        sys.argv[0] = main
    if sys.path and sys.path[0] == "":
        sys.path[0] = os.getcwd()
    try:
        code = pytest.main(plugins=[Reports()])
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


raise SystemExit(_main())
