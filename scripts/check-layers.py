#!/usr/bin/env python3
"""Checks the layers of src/ (README, "Layout"): imports run downward only.

- Every top-level module (a folder of src/, or a file of its own) has a rank; a module may use
  only modules of a lower rank (and itself). That makes the graph of top-level modules acyclic.
- Within a folder, the files do not import each other in a cycle.
- The pure layers (settings, mapping, sqlgen) run no SQL: no SPI, no pg_sys, no pgrx.

    scripts/check-layers.py [src-dir]     exit 1 and name each violation; 0 when the layers hold
    scripts/check-layers.py --self-test   proves that each rule catches what it forbids
"""
import os
import re
import sys

RANKS = {
    "errors": 0, "quote": 0,
    "settings": 1,
    "mapping": 2,
    "sqlgen": 3,
    "db": 4,
    "actors": 5,
    "admin": 6,
}
PURE = {"settings", "mapping", "sqlgen"}
# The crate root and the test-only modules see everything.
EXEMPT = {"lib", "tests", "settings_fuzz"}

USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}\s*;", re.S)
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?")
SUPER_PATH = re.compile(r"\bsuper::([a-z_][a-z0-9_]*)")
IMPURE = re.compile(r"\b(Spi|SpiClient|pg_sys|pgrx)\b")
COMMENT = re.compile(r"//[^\n]*")


def strip(text):
    """The code without comments and string literals (a doc comment may name anything)."""
    text = COMMENT.sub("", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def modules_of(path):
    """(top-level module, submodule or None) of a file path relative to src/."""
    parts = path[:-3].split("/")
    if len(parts) == 1:
        return parts[0], None
    sub = parts[1] if parts[1] != "mod" else None
    return parts[0], sub


def references(text):
    """(top, sub) pairs a file names through `crate::` paths and `use crate::{...}` groups."""
    refs = set()
    for m in CRATE_PATH.finditer(text):
        refs.add((m.group(1), m.group(2)))
    for m in USE_GROUP.finditer(text):
        for item in m.group(1).split(","):
            item = item.strip()
            if item:
                head = item.split("::")
                refs.add((head[0], head[1] if len(head) > 1 else None))
    return refs


def check(files):
    """Violations in `files` ({path relative to src/: text}), as messages."""
    problems = []
    subs = {}  # top -> set of its submodules
    for path in files:
        top, sub = modules_of(path)
        if sub:
            subs.setdefault(top, set()).add(sub)
    edges = {}  # (top, sub) -> set of (top, sub) within the same folder
    for path, raw in sorted(files.items()):
        top, sub = modules_of(path)
        if top in EXEMPT:
            continue
        if top not in RANKS:
            problems.append(f"src/{path}: module {top} has no layer (add it to RANKS and the README)")
            continue
        text = strip(raw)
        for other, other_sub in sorted(references(text), key=str):
            if other in ("self", "super") or other == top:
                if other == top and other_sub in subs.get(top, ()) and other_sub != sub:
                    edges.setdefault((top, sub), set()).add((top, other_sub))
                continue
            if other in EXEMPT:
                problems.append(f"src/{path}: uses crate::{other}, a test-only module")
            elif other not in RANKS:
                problems.append(f"src/{path}: uses crate::{other}, which has no layer")
            elif RANKS[other] >= RANKS[top]:
                problems.append(
                    f"src/{path}: {top} (layer {RANKS[top]}) uses crate::{other} (layer {RANKS[other]}): imports run downward only"
                )
        for m in SUPER_PATH.finditer(text):
            if m.group(1) in subs.get(top, ()) and m.group(1) != sub:
                edges.setdefault((top, sub), set()).add((top, m.group(1)))
        if top in PURE:
            m = IMPURE.search(text)
            if m:
                line = text[: m.start()].count("\n") + 1
                problems.append(f"src/{path}:{line}: {top} is a pure layer but names {m.group(1)}")
    # Cycles between the files of one folder.
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ()), key=str):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                problems.append("import cycle: " + " -> ".join(f"{t}::{s or 'mod'}" for t, s in cycle))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges, key=str):
        if node not in state:
            visit(node, [])
    return problems


def read_tree(src):
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                full = os.path.join(root, name)
                with open(full, encoding="utf-8") as f:
                    files[os.path.relpath(full, src)] = f.read()
    return files


def self_test():
    clean = {
        "errors.rs": "pub enum Error {}",
        "settings/mod.rs": "use crate::errors::Error;",
        "db/mod.rs": "pub mod a; pub mod b;",
        "db/a.rs": "use crate::db::b; use crate::settings::X;",
        "db/b.rs": "use crate::errors::Result; // crate::admin in a comment is fine",
    }
    cases = {
        "upward import": {"settings/mod.rs": "use crate::db::state;"},
        "same-layer import": {"errors.rs": "use crate::quote::ident;", "quote.rs": ""},
        "grouped upward import": {"mapping/mod.rs": "use crate::{errors, actors};"},
        "cycle within a folder": {"db/b.rs": "use crate::db::a;"},
        "SPI in a pure layer": {"settings/mod.rs": "fn f() { Spi::run(\"\"); }"},
        "module without a layer": {"extra.rs": "use crate::errors::Error;"},
    }
    ok = True
    if check(clean):
        print("self-test: the clean tree is refused:", check(clean))
        ok = False
    for name, change in cases.items():
        found = check({**clean, **change})
        print(f"self-test: {name}: {'caught' if found else 'NOT CAUGHT'}{': ' + found[0] if found else ''}")
        ok = ok and bool(found)
    return ok


def main():
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(0 if self_test() else 1)
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    problems = check(read_tree(src))
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} violation(s)")
        sys.exit(1)
    print("check-layers: imports run downward, no cycles, the pure layers run no SQL")


if __name__ == "__main__":
    main()
