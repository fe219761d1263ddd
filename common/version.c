/* SPDX-License-Identifier: MIT */
/* The version of every program (version.h). */
#include "version.h"

#include "nb_version_gen.h"

const char *nb_version(void)
{
	return NB_VERSION;
}

const char *nb_version_git(void)
{
	return NB_VERSION_GIT;
}

void nb_version_print(FILE *out, const char *prog)
{
	if (NB_VERSION_GIT[0] != '\0')
		fprintf(out, "%s %s (git %s)\n", prog, NB_VERSION, NB_VERSION_GIT);
	else
		fprintf(out, "%s %s\n", prog, NB_VERSION);
}
