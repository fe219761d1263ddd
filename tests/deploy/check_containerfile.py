# SPDX-License-Identifier: MIT
"""check_containerfile.py [--image agent|node] SRC [OUTDIR]: static lint of
deploy/Containerfile (the agent, the default) or deploy/Containerfile.node
(the storage node) (no container engine here). Two stages from Debian 12;
the build stage installs what the build needs, copies what CMake reads,
builds the programs and the Debian package (cpack); the runtime stage
installs that package (its Depends bring the shared libraries) and tools,
and runs the program (the node as a non-root user). With OUTDIR, writes
what the next checks need: build.pkgs, runtime.pkgs (archive packages),
copies (the build stage's COPY sources), targets (the cmake --build
targets), bins (programs copied to the runtime stage outside a package),
debs (the packages of the tree it installs), user (the runtime USER).
Failures name the file and field."""

import json
import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_check import Checker, project_version  # noqa: E402

# libsystemd-dev: sd_notify; dpkg-dev and file: cpack's dpkg-shlibdeps.
BUILD_NEEDS = {"cmake", "pkg-config", "libev-dev", "libssl-dev", "libprotobuf-c-dev",
               "protobuf-c-compiler", "libnl-3-dev", "libnl-genl-3-dev",
               "libsystemd-dev", "dpkg-dev", "file", "libjson-c-dev", "scdoc"}

# What each image must have: its file, the -dev packages beyond
# BUILD_NEEDS, the runtime packages, the program it builds, copies and runs
# (ENTRYPOINT argv start), and whether it must run as a non-root USER.
IMAGES = {
    "agent": {
        "file": "Containerfile",
        "build_needs": set(),
        "runtime_needs": {"kmod", "iproute2"},
        "program": "vduse-netblk",
        # The package (cmake/install.cmake) and the targets it installs.
        "deb": "vduse-netblk",
        "package": "client",
        "deb_programs": ["vduse-netblk", "netblk-cli"],
        "entrypoint": ["vduse-netblk", "agent"],
        "non_root": False,
    },
    "node": {
        "file": "Containerfile.node",
        # librados-dev: the rados backend is built only when it is found
        "build_needs": {"librados-dev"},
        # librados2 comes with the package's Depends.
        "runtime_needs": set(),
        "program": "netblk-node",
        "deb": "netblk-node",
        "package": "node",
        "deb_programs": ["netblk-node", "netblk-server-mock", "netblk-rados-bench"],
        "entrypoint": ["netblk-node", "--config", "/etc/netblk/node.conf"],
        "non_root": True,
    },
}


def instructions(path):
    """[(line number, INSTRUCTION, rest)] with continuations joined."""
    out, buf, start = [], "", 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not buf and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if buf and s.lstrip().startswith("#"):
                continue
            if not buf:
                start = n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            word, _, rest = buf.strip().partition(" ")
            out.append((start, word.upper(), rest.strip()))
            buf = ""
    return out


def apt_packages(run, debs=None):
    """Archive packages named by 'apt-get install' in a RUN line; local
    .deb files (a path) go to debs."""
    pkgs = []
    for cmd in re.split(r"&&|;|\|\|", run):
        words = shlex.split(cmd)
        words = [w for w in words if not re.match(r"^[A-Z_]+=", w)]  # VAR=value prefixes
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            for w in words[words.index("install") + 1:]:
                if w.startswith("-"):
                    continue
                if w.startswith(("/", "./")) and w.endswith(".deb"):
                    if debs is not None:
                        debs.append(w)
                    continue
                pkgs.append(w)
    return pkgs


def main():
    args = sys.argv[1:]
    image = "agent"
    if args[:1] == ["--image"]:
        image, args = args[1], args[2:]
    prof = IMAGES[image]
    src = args[0]
    outdir = args[1] if len(args) > 1 else None
    path = os.path.join(src, "deploy", prof["file"])
    what = f"deploy/{prof['file']}"
    c = Checker(src)
    ins = instructions(path)
    version = project_version(src)

    stages = []  # {"from", "as", "line", "ins": [...]}
    for n, word, rest in ins:
        if word == "FROM":
            m = re.match(r"^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            if c.expect(m, path, f"FROM (line {n})", f"cannot read '{rest}'"):
                stages.append({"from": m.group(1), "as": m.group(2), "line": n, "ins": []})
        elif c.expect(stages, path, f"{word} (line {n})", "comes before any FROM"):
            stages[-1]["ins"].append((n, word, rest))
    if not c.expect(len(stages) == 2, path, "FROM",
                    f"expected two stages (build, runtime), found {len(stages)}"):
        c.finish(what)
    build, runtime = stages
    c.expect(build["from"] in ("debian:12", "debian:bookworm"), path,
             f"FROM (line {build['line']})", f"build stage must be debian:12, is {build['from']}")
    c.expect(build["as"], path, f"FROM (line {build['line']})", "build stage needs a name (AS build)")
    c.expect(runtime["from"] in ("debian:12-slim", "debian:bookworm-slim"), path,
             f"FROM (line {runtime['line']})",
             f"runtime stage must be debian:12-slim, is {runtime['from']}")

    def stage_pkgs(st, name, debs=None):
        runs = [(n, r) for n, w, r in st["ins"] if w == "RUN" and "apt-get" in r and "install" in r]
        pkgs = []
        for n, r in runs:
            pkgs += apt_packages(r, debs)
            f = f"RUN (line {n})"
            c.expect("apt-get update" in r, path, f, "apt-get install without apt-get update in the same RUN")
            c.expect("--no-install-recommends" in r, path, f, "apt-get install without --no-install-recommends")
            c.expect("rm -rf /var/lib/apt/lists" in r, path, f, "does not remove /var/lib/apt/lists")
        c.expect(pkgs or debs, path, f"{name} stage RUN", "installs no package")
        return pkgs

    bpkgs = stage_pkgs(build, "build")
    debs = []
    rpkgs = stage_pkgs(runtime, "runtime", debs)
    c.expect({"build-essential", "gcc"} & set(bpkgs), path, "build stage apt-get install",
             "no C compiler (build-essential or gcc)")
    for p in sorted((BUILD_NEEDS | prof["build_needs"]) - set(bpkgs)):
        c.fail(path, "build stage apt-get install", f"does not install {p}")
    for p in sorted(prof["runtime_needs"] - set(rpkgs)):
        c.fail(path, "runtime stage apt-get install", f"does not install {p}")

    # The build stage copies what CMake reads: every top-level subdirectory.
    copies = []
    for n, w, r in build["ins"]:
        if w in ("COPY", "ADD"):
            words = [x for x in shlex.split(r) if not x.startswith("--")]
            for s in words[:-1]:
                copies.append(s.rstrip("/"))
                c.expect(os.path.exists(os.path.join(src, s)), path, f"COPY (line {n})",
                         f"'{s}' does not exist in the tree")
    with open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8") as f:
        subdirs = re.findall(r"^\s*add_subdirectory\((\S+?)\)", f.read(), re.M)
    for d in subdirs + ["CMakeLists.txt"]:
        c.expect(d in copies, path, "build stage COPY",
                 f"does not copy {d}, which the top-level CMakeLists.txt reads")
    targets = []
    for n, w, r in build["ins"]:
        if w == "RUN" and "cmake --build" in r:
            m = re.search(r"cmake --build\s.*?--target\s+([^&;|]+)", r)
            if c.expect(m, path, f"RUN (line {n})", "cmake --build names no --target"):
                targets = [t for t in m.group(1).split() if not t.startswith("-")]
    for t in [prof["program"]] + prof["deb_programs"]:
        c.expect(t in targets, path, "RUN cmake --build --target",
                 f"does not build {t} (package {prof['deb']} installs it)")
    builds = " ".join(r for _n, w, r in build["ins"] if w == "RUN")
    c.expect(re.search(r"cpack\s+-G\s+DEB", builds), path, "build stage RUN",
             "does not build the Debian package (cpack -G DEB)")
    c.expect(f"-DNETBLK_PACKAGES={prof['package']}" in builds, path, "build stage RUN",
             f"cmake must be configured with -DNETBLK_PACKAGES={prof['package']} "
             f"(only the {prof['deb']} package)")

    # The runtime stage gets the programs from the build stage, on PATH.
    bins = []
    for n, w, r in runtime["ins"]:
        if w == "COPY" and "--from=" in r:
            words = [x for x in shlex.split(r) if not x.startswith("--")]
            c.expect(f"--from={build['as']}" in r, path, f"COPY (line {n})",
                     f"copies from a stage other than {build['as']}")
            dest = words[-1]
            for s in words[:-1]:
                if s.endswith(".deb"):
                    continue
                b = os.path.basename(s)
                bins.append(b)
                c.expect(b in targets, path, f"COPY (line {n})", f"{s} is not a built target")
                c.expect(dest.rstrip("/") in ("/usr/local/bin", "/usr/bin"), path,
                         f"COPY (line {n})", f"{b} is not copied to a directory on PATH")
        elif w == "COPY":
            for s in [x for x in shlex.split(r) if not x.startswith("--")][:-1]:
                c.expect(os.path.exists(os.path.join(src, s)), path, f"COPY (line {n})",
                         f"'{s}' does not exist in the tree")
    c.expect(prof["program"] in bins or
             any(os.path.basename(d).startswith(prof["deb"] + "_") for d in debs),
             path, "runtime stage", f"does not install {prof['program']} "
             f"(apt-get install /tmp/{prof['deb']}_*.deb)")
    if debs:
        # The package the build stage made is what the runtime installs.
        for n, w, r in runtime["ins"]:
            if w == "COPY" and "--from=" in r:
                srcs = [x for x in shlex.split(r) if not x.startswith("--")][:-1]
                for s in srcs:
                    c.expect(s.endswith(".deb"), path, f"COPY (line {n})",
                             f"{s}: the runtime stage copies only the package")

    ep = [r for _n, w, r in runtime["ins"] if w == "ENTRYPOINT"]
    if c.expect(len(ep) == 1, path, "ENTRYPOINT", "the runtime stage needs one"):
        try:
            argv = json.loads(ep[0])
        except ValueError:
            argv = None
        if c.expect(isinstance(argv, list), path, "ENTRYPOINT",
                    "must be the exec (JSON) form, so that the agent is PID 1 and gets the signals"):
            want = prof["entrypoint"]
            c.expect(argv[:len(want)] == want, path, "ENTRYPOINT",
                     f"must start with {want}, is {argv[:len(want)]}")
            if image == "agent":
                c.expect("--foreground" in argv, path, "ENTRYPOINT", "needs --foreground")
                c.expect("--spec-dir" in argv and argv.index("--spec-dir") + 1 < len(argv),
                         path, "ENTRYPOINT", "needs --spec-dir DIR")
    users = [r for _n, w, r in runtime["ins"] if w == "USER"]
    user = users[-1] if users else "root"
    if prof["non_root"]:
        # Numeric, so that Kubernetes' runAsNonRoot can verify it.
        m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
        c.expect(m and int(m.group(1)) != 0, path, "USER",
                 f"the runtime stage must end as a numeric non-root user (uid[:gid]), is '{user}'")
        c.expect(m and m.group(2) and int(m.group(2)) != 0, path, "USER",
                 f"name a non-root group too (uid:gid), is '{user}'")
    title = re.search(r'org\.opencontainers\.image\.title="([^"]*)"',
                      " ".join(r for _n, w, r in runtime["ins"] if w == "LABEL"))
    c.expect(title and title.group(1) == prof["program"], path,
             "LABEL org.opencontainers.image.title", f"must be {prof['program']}")
    labels = " ".join(r for _n, w, r in runtime["ins"] if w == "LABEL")
    m = re.search(r'org\.opencontainers\.image\.version="([^"]*)"', labels)
    c.expect(m and m.group(1) == version, path, "LABEL org.opencontainers.image.version",
             f"must be the project version {version}")
    stop = [r for _n, w, r in runtime["ins"] if w == "STOPSIGNAL"]
    c.expect(not stop or stop[-1] == "SIGTERM", path, "STOPSIGNAL", "must be SIGTERM")

    if outdir and not c.errors:
        os.makedirs(outdir, exist_ok=True)
        for name, items in (("build.pkgs", bpkgs), ("runtime.pkgs", rpkgs),
                            ("copies", copies), ("targets", targets), ("bins", bins),
                            ("debs", debs), ("user", [user])):
            with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
                f.write("\n".join(items) + "\n")
    c.finish(what)


if __name__ == "__main__":
    main()
