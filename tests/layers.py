#!/usr/bin/env python3
# tests/layers.py: the include graph of alloc/ is the layering docs/ARCHITECTURE.md draws
# ("Layers and data flow"), and it has no cycle.
#
# Each file of alloc/ (and topology/) has a layer below; a file may include only headers of
# its own layer or of layers below it (the public headers, include/mmcontig/, and the
# generated config.h are allowed everywhere). Since every call needs its declaration and the
# build refuses implicit declarations, a file can then call nothing above its layer either.
# A file of alloc/ that the table does not know fails the test: a new file must take its
# place in the layering here and in ARCHITECTURE.
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# layer: the files in it (headers and the sources that implement them)
LAYERS = [
    ("leaf", ["error.h", "error.c", "check.h", "lock.h", "lock.c", "rand.h", "version.c",
              "topology.h", "topology.c"]),
    ("base", ["base.h"]),
    ("os", ["os.h", "os.c", "hugepages.c"]),
    ("frames", ["frames.h", "frames.c"]),
    ("engines", ["search/common.h", "search/common.c", "search/linear.c", "search/bitmap.c",
                 "search/buddy.c", "search/tlsf.c", "search/tree.c"]),
    ("pool", ["pool.h", "pool.c"]),
    ("search", ["search.h", "search/engines.c", "search/checked.c"]),
    ("partition", ["partition.h", "partition.c", "nodes.c", "config.c", "machine.c"]),
    ("slow path", ["slowpath.h", "load.c", "grow.c"]),
    ("contig", ["contig.h", "contig.c"]),
    ("routines", ["internal.h", "nt.c", "mdl.c", "frag.c", "aging.c", "sim.c"]),
]
# which layers each layer stands on (the engines see only the public engine.h)
BELOW = {
    "leaf": set(), "base": {"leaf"}, "os": {"base", "leaf"}, "frames": {"base", "leaf"},
    "engines": set(), "pool": {"os", "base", "leaf"}, "search": {"frames", "base", "leaf"},
    "partition": {"pool", "os", "search", "frames", "base", "leaf"},
    "slow path": {"partition", "pool", "os", "search", "frames", "base", "leaf"},
    "contig": {"slow path", "partition", "pool", "os", "search", "frames", "base", "leaf"},
    "routines": {"contig", "slow path", "partition", "pool", "os", "search", "frames", "base", "leaf"},
}
LAYER_OF = {f: name for name, files in LAYERS for f in files}


def files():
    out = {}
    for d, prefix in ((os.path.join(ROOT, "alloc"), ""), (os.path.join(ROOT, "topology"), "")):
        for dirpath, _, names in os.walk(d):
            for n in names:
                if n.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, n), d)
                    out[rel] = os.path.join(dirpath, n)
    return out


def includes(path, rel):
    """The files of alloc/ or topology/ that path includes, as keys of LAYER_OF."""
    got = []
    here = os.path.dirname(rel)
    for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', open(path).read(), re.M):
        inc = m.group(1)
        if inc.startswith("mmcontig/") or inc == "config.h":
            continue  # public headers and the generated config.h
        cand = os.path.normpath(os.path.join(here, inc)) if here else inc
        got.append(cand if cand in LAYER_OF or not here else inc)
    return got


def main():
    t = Tap()
    fs = files()
    unknown = sorted(set(fs) - set(LAYER_OF))
    t.check(not unknown, "every file of alloc/ and topology/ has a layer (unknown: %s)" % (unknown or "none"))
    graph, wrong = {}, []
    for rel, path in sorted(fs.items()):
        graph[rel] = includes(path, rel)
        lf = LAYER_OF.get(rel)
        for inc in graph[rel]:
            li = LAYER_OF.get(inc)
            if li is None:
                wrong.append("%s includes %s, which has no layer" % (rel, inc))
            elif lf and li != lf and li not in BELOW[lf]:
                wrong.append("%s (%s) includes %s (%s)" % (rel, lf, inc, li))
    t.check(not wrong, "each file includes only its own layer and the layers below it%s" %
         ("" if not wrong else ": " + "; ".join(wrong)))
    # no cycle: depth-first search over the headers
    state, cycle = {}, []

    def visit(n, stack):
        if cycle:
            return
        state[n] = 1
        for m in graph.get(n, []):
            if state.get(m) == 1:
                cycle.extend(stack[stack.index(m):] + [m] if m in stack else [n, m])
                return
            if state.get(m) is None:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(graph):
        if state.get(n) is None:
            visit(n, [n])
    t.check(not cycle, "the include graph has no cycle%s" % (": " + " -> ".join(cycle) if cycle else ""))
    # the layering is not vacuous: the routines reach the bottom, the bottom reaches nothing above
    t.check("os.h" in graph["pool.h"] and "partition.h" in graph["slowpath.h"] and
         "internal.h" not in sum((graph[f] for f in graph if LAYER_OF.get(f) != "routines"), []),
         "pool.h stands on os.h, slowpath.h on partition.h, and no file below the routines "
         "includes internal.h")
    return t.done()


sys.exit(main())
