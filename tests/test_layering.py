"""The house rules of the layout, checked on the source: floors import only downwards (function-level
imports included), `training` and `metrics` never import each other (the official-path faces in
training/ are re-exports of stylegan_tf and count as training), scripts never import scripts, and
no module is over 700 lines."""

import ast
import glob
import os
import re

from conftest import ROOT

SCRIPTS = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "*.py"))}
# package -> top-level names it must never import
FORBIDDEN = {
    "dnnlib": {"stylegan_tf", "training", "metrics"} | SCRIPTS,
    "stylegan_tf": {"training", "metrics"} | SCRIPTS,
    "training": {"metrics"} | SCRIPTS,
    "metrics": {"training"} | SCRIPTS,
}


def imported_top_levels(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def package_files(package):
    return sorted(glob.glob(os.path.join(ROOT, package, "**", "*.py"), recursive=True))


def test_floors_import_only_downwards():
    bad = []
    for package, forbidden in FORBIDDEN.items():
        for path in package_files(package):
            bad += ["%s:%d imports %s" % (os.path.relpath(path, ROOT), line, name)
                    for line, name in imported_top_levels(path) if name in forbidden]
    assert not bad, bad


def test_scripts_do_not_import_scripts():
    bad = []
    for name in sorted(SCRIPTS):
        path = os.path.join(ROOT, name + ".py")
        bad += ["%s.py:%d imports %s" % (name, line, other) for line, other in imported_top_levels(path)
                if other in SCRIPTS and other != name]
    assert not bad, bad


def test_no_module_over_700_lines():
    files = glob.glob(os.path.join(ROOT, "*.py"))
    for package in ("dnnlib", "stylegan_tf", "training", "metrics"):
        files += package_files(package)
    long = {os.path.relpath(p, ROOT): n for p in files for n in [sum(1 for _ in open(p))] if n > 700}
    assert not long, long


def test_dnnlib_names_no_model_package():
    """dnnlib finds the network builders through their registration (and the entry points of
    pyproject.toml), never by naming a model package, not even in a string."""
    bad = ["%s:%d" % (os.path.relpath(path, ROOT), i + 1) for path in package_files("dnnlib")
           for i, line in enumerate(open(path)) if re.search(r"\bstylegan_tf\.|\b(import|from) stylegan_tf\b", line)
           and not line.lstrip().startswith("#")]
    assert not bad, bad
