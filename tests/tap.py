# tests/tap.py: the TAP reporter the Python test programs share (test_install, test_fleet,
# test_report_browser, test_frag_suite, test_frag_kernel, layers).


class Tap:
    """check() prints one TAP line; a failed check also prints the last lines of its detail.
    done() prints the plan and returns the exit status (0: every check passed)."""

    def __init__(self, tail=25):
        self.n, self.ok, self.tail = 0, True, tail

    def check(self, cond, what, detail=""):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {what}")
        if not cond:
            self.ok = False
            for line in str(detail).splitlines()[-self.tail:]:
                print(f"# {line}")
        return cond

    def done(self):
        print(f"1..{self.n}")
        return 0 if self.ok else 1
