#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that the product's layers depend on each other one way only.

Every C file of a layer may include system headers, headers of its own
layer, and the public headers (the include/ folder) of the layers below
it, nothing else:

    common <- proto <- engine;  common <- virtio <- vduse;
    daemon uses engine, virtio, vduse;  cli uses engine;
    server uses proto and rados;  server-mock and node use server (and
    proto);  server/rados (librados) uses only common;
    everything may use common.

Usage: check_layers.py [SOURCE_DIR]   (default: this file's tree)
Prints one line per offending include ("FILE:LINE: includes X, ...") and
exits 1 when there is any, 0 otherwise. Tests, kmod and bench are not
layers of the product and are not checked.
"""
import os
import re
import sys

# layer -> folder (relative to the source tree)
LAYERS = {
    "common": "common",
    "proto": "proto",
    "engine": "client/engine",
    "virtio": "client/virtio",
    "vduse": "client/vduse",
    "daemon": "client/daemon",
    "cli": "client/cli",
    "server": "server",
    "mock": "server-mock",
    "rados": "server/rados",
}

# layer -> layers whose public headers it may include
ALLOWED = {
    "common": set(),
    "proto": {"common"},
    "engine": {"common", "proto"},
    "virtio": {"common"},
    "vduse": {"common", "virtio"},
    "daemon": {"common", "engine", "virtio", "vduse"},
    "cli": {"common", "engine"},
    "server": {"common", "proto", "rados"},
    "mock": {"common", "proto", "server"},
    "rados": {"common"},
}

# Generated headers and the one layer that may include them.
GENERATED = {"netblk.pb-c.h": "proto",
             # the version (cmake/version.cmake), behind common's version.h
             "nb_version_gen.h": "common"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def walk_layer(root, folder):
    """os.walk of a layer's folder, without the folders of other layers
    nested in it (server/rados is a layer of its own inside server/)."""
    others = {os.path.join(root, f) for f in LAYERS.values() if f != folder}
    for dirpath, dirs, files in os.walk(os.path.join(root, folder)):
        dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in others]
        yield dirpath, dirs, files


def headers_of(root, folder):
    """Public (under include/) and private header names of one layer."""
    public, private = set(), set()
    base = os.path.join(root, folder)
    for dirpath, _, files in walk_layer(root, folder):
        rel = os.path.relpath(dirpath, base)
        is_public = rel == "include" or rel.startswith("include" + os.sep)
        for f in files:
            if f.endswith(".h"):
                (public if is_public else private).add(f)
    return public, private


def sources_of(root, folder):
    for dirpath, _, files in walk_layer(root, folder):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def check(root):
    public, private = {}, {}
    for layer, folder in LAYERS.items():
        public[layer], private[layer] = headers_of(root, folder)
    problems = []
    for layer, folder in LAYERS.items():
        own = public[layer] | private[layer]
        for path in sources_of(root, folder):
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
            for n, line in enumerate(lines, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                name = os.path.basename(m.group(1))
                where = f"{os.path.relpath(path, root)}:{n}"
                if name in GENERATED:
                    if GENERATED[name] != layer:
                        problems.append(f"{where}: includes generated "
                                        f"{name}, which only the "
                                        f"{GENERATED[name]} layer may")
                    continue
                if name in own and "/" not in m.group(1):
                    continue
                owners = [l for l in LAYERS if name in public[l]]
                if not owners:
                    hidden = [l for l in LAYERS if name in private[l]]
                    if hidden:
                        problems.append(f"{where}: includes {name}, a "
                                        f"private header of the "
                                        f"{hidden[0]} layer")
                    else:
                        problems.append(f"{where}: includes {m.group(1)}, "
                                        f"which no layer provides")
                    continue
                if not any(o in ALLOWED[layer] for o in owners):
                    problems.append(f"{where}: the {layer} layer includes "
                                    f"{name} of the {owners[0]} layer; "
                                    f"{layer} may use only "
                                    f"{', '.join(sorted(ALLOWED[layer])) or 'nothing'}")
                    continue
                # A public header passes its includes on to every layer
                # that uses it: they must be allowed there too.
                if os.path.basename(path) in public[layer] and \
                        f"{os.sep}include{os.sep}" in path:
                    users = [u for u in LAYERS if layer in ALLOWED[u]]
                    leaks = [u for u in users
                             if not any(o in ALLOWED[u] or o == u
                                        for o in owners)]
                    if leaks:
                        problems.append(f"{where}: public header of the "
                                        f"{layer} layer includes {name} of "
                                        f"the {owners[0]} layer, which "
                                        f"{', '.join(leaks)} may not use")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    root = os.path.abspath(root)
    missing = [f for f in LAYERS.values()
               if not os.path.isdir(os.path.join(root, f))]
    if missing:
        print(f"check_layers: {root}: no folder {', '.join(missing)}")
        return 2
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} include(s) against the "
              f"layer order")
        return 1
    print(f"check_layers: {root}: every include follows the layer order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
