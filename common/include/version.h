/* SPDX-License-Identifier: MIT */
/*
 * The version of every program, from one definition: the project version
 * in the top CMakeLists.txt and, when built from a git tree, `git
 * describe` (generated into the build tree as nb_version_gen.h).
 */
#ifndef NETBLK_VERSION_H
#define NETBLK_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *nb_version(void);
/* `git describe --always --dirty --tags` at build time, or "" outside git. */
const char *nb_version_git(void);
/*
 * What --version prints: "PROG 0.1.0" and, from git, " (git 0aeca4b)",
 * then a newline.
 */
void nb_version_print(FILE *out, const char *prog);

#endif
