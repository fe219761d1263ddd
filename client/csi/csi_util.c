/* SPDX-License-Identifier: MIT */
/* Checks and helpers shared by the controller and node services. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csi.h"
#include "csi.pb-c.h"

const char *nb_csi_cap_problem(const void *p)
{
	const Csi__V1__VolumeCapability *cap = p;

	if (!cap)
		return "no volume capability";
	if (cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT) {
		const char *fs = cap->mount->fs_type;

		if (fs && fs[0] && strcmp(fs, "ext4") != 0)
			return "only ext4 file systems are supported (fs_type)";
	} else if (cap->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK) {
		return "the capability names neither block nor mount access";
	}
	if (!cap->access_mode)
		return "the capability has no access mode";
	switch (cap->access_mode->mode) {
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER:
		return NULL;
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN:
		return "the access mode is UNKNOWN";
	default:
		return "multi-node writers are not supported (one writer lock per volume)";
	}
}

bool nb_csi_cap_readonly(const void *p)
{
	const Csi__V1__VolumeCapability *cap = p;

	return cap && cap->access_mode &&
	       (cap->access_mode->mode == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY ||
		cap->access_mode->mode == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY);
}

const char *nb_csi_map_get(size_t n, void *const *entries, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const Csi__V1__CreateVolumeRequest__ParametersEntry *e = entries[i];

		if (e->key && strcmp(e->key, key) == 0)
			return e->value ? e->value : "";
	}
	return NULL;
}

int nb_csi_run(char *const argv[], char *out, size_t outlen)
{
	int fds[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	char sink[512];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(fds[0]);
		close(fds[1]);
		return -e;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execvp(argv[0], argv);
		/* only async-signal-safe calls here: other threads may hold locks */
		if (write(2, "cannot run ", 11) < 0 ||
		    write(2, argv[0], strlen(argv[0])) < 0 ||
		    write(2, " (not installed?)", 17) < 0)
			_exit(127);
		_exit(127);
	}
	close(fds[1]);
	if (out && outlen)
		out[0] = '\0';
	for (;;) {
		if (out && got + 1 < outlen)
			n = read(fds[0], out + got, outlen - 1 - got);
		else
			n = read(fds[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && got + 1 < outlen && (size_t)n <= outlen - 1 - got) {
			got += (size_t)n;
			out[got] = '\0';
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	/* trailing newlines make poor messages */
	while (out && got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r'))
		out[--got] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
