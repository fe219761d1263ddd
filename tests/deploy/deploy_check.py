# SPDX-License-Identifier: MIT
"""Shared helpers of the deploy/ checks: error collection that names the
file and the field, and small accessors for parsed manifests."""

import os
import re
import sys


class Checker:
    """Collects failures; each names a file and a field."""

    def __init__(self, src):
        self.src = src
        self.errors = []
        self.checked = 0

    def rel(self, path):
        return os.path.relpath(path, self.src)

    def fail(self, path, field, msg):
        self.errors.append(f"{self.rel(path)}: {field}: {msg}")

    def expect(self, cond, path, field, msg):
        self.checked += 1
        if not cond:
            self.fail(path, field, msg)
        return bool(cond)

    def finish(self, what):
        if self.errors:
            for e in self.errors:
                print(f"FAIL {e}", file=sys.stderr)
            print(f"{what}: {len(self.errors)} problem(s) in {self.checked} checks",
                  file=sys.stderr)
            sys.exit(1)
        print(f"{what}: {self.checked} checks passed")
        sys.exit(0)


def project_version(src):
    """VERSION of project() in the top-level CMakeLists.txt."""
    with open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(\s*\S+\s+VERSION\s+([0-9][0-9.]*)", f.read())
    return m.group(1) if m else None


def dig(obj, path, default=None):
    """dig(d, "spec.template.spec") -> value or default."""
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return default
        obj = obj[part]
    return obj
