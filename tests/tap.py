# tests/tap.py: the TAP reporter the Python test programs share (test_install, test_fleet,
# test_report_browser, test_frag_suite, test_frag_kernel, test_scale_suite, layers), and the
# machine's hugepage counts that the hugepage tests compare before and after, and the schema
# check of a result CSV.
import csv
import os


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


def hugepage_counts():
    """nr_hugepages and nr_overcommit_hugepages of 2 MiB and 1 GiB hugepages, by sysfs path."""
    out = {}
    for d in ("/sys/kernel/mm/hugepages/hugepages-2048kB", "/sys/kernel/mm/hugepages/hugepages-1048576kB"):
        for f in ("nr_hugepages", "nr_overcommit_hugepages"):
            try:
                out[d + "/" + f] = int(open(os.path.join(d, f)).read())
            except OSError:
                pass
    return out


def schema_rows(t, path, columns):
    """The rows of the result CSV at path, after two checks: its header is columns (the
    schema's) and every column is documented in results/README.md."""
    name = os.path.basename(path)
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else []
    header = open(path).readline().strip().split(",") if os.path.exists(path) else []
    readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results", "README.md")).read()
    t.check(header == columns, f"{name}'s header is the schema's")
    t.check(bool(header) and all(f"| {c} |" in readme for c in header),
            f"every {name} column is documented in results/README.md")
    return rows
