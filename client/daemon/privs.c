/* SPDX-License-Identifier: MIT */
/* Dropping privileges after setup: see privs.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errmsg.h"
#include "privs.h"

static int privs_get(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	*eff = *prm = *inh = 0;	/* defined on failure too */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*eff = data[0].effective | (uint64_t)data[1].effective << 32;
	*prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int privs_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32),
		  (uint32_t)(inh >> 32) },
	};

	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

uint64_t nb_privs_effective(void)
{
	uint64_t eff, prm, inh;

	return privs_get(&eff, &prm, &inh) < 0 ? 0 : eff;
}

/* Cut the bounding set to PRIVS_KEEP; needs CAP_SETPCAP, else a no-op. */
static int privs_bound(char *err, size_t errlen)
{
	uint64_t eff, prm, inh;
	int cap, ret;

	ret = privs_get(&eff, &prm, &inh);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "capget: %s",
			       strerror(-ret));
	if (!(eff & (1ULL << CAP_SETPCAP)))
		return 0;
	for (cap = 0; cap < 64; cap++) {
		if (PRIVS_KEEP & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;		/* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return nb_errf(err, errlen, -errno,
					  "cannot drop capability %d from the bounding set: %s",
				       cap, strerror(errno));
	}
	return 0;
}

static int privs_switch_user(const char *user, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int ret;

	ret = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (ret)
		return nb_errf(err, errlen, -ret, "cannot look up user '%s': %s",
			       user, strerror(ret));
	if (!res)
		return nb_errf(err, errlen, -ENOENT, "no user named '%s'",
			       user);
	if (pw.pw_uid == 0)
		return nb_errf(err, errlen, -EINVAL,
			       "--user '%s' is root: name an unprivileged user",
			       user);
	if (geteuid() != 0 && geteuid() != pw.pw_uid)
		return nb_errf(err, errlen, -EPERM,
			       "cannot become user '%s': not running as root",
			       user);
	/* keep the permitted set across the uid change, for CAP_NET_ADMIN */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return nb_errf(err, errlen, -errno, "PR_SET_KEEPCAPS: %s",
			       strerror(errno));
	if (initgroups(user, pw.pw_gid) < 0)
		return nb_errf(err, errlen, -errno,
			       "cannot set the groups of user '%s': %s", user,
			       strerror(errno));
	if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0)
		return nb_errf(err, errlen, -errno,
			       "cannot switch to group %u of user '%s': %s",
			       (unsigned)pw.pw_gid, user, strerror(errno));
	if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0)
		return nb_errf(err, errlen, -errno,
			       "cannot switch to user '%s' (uid %u): %s", user,
			       (unsigned)pw.pw_uid, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return nb_errf(err, errlen, -errno, "PR_SET_KEEPCAPS: %s",
			       strerror(errno));
	return 0;
}

int nb_privs_drop(const char *user, char *err, size_t errlen)
{
	uint64_t eff, prm, inh, keep;
	int ret;

	ret = privs_bound(err, errlen);
	if (ret < 0)
		return ret;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return nb_errf(err, errlen, -errno,
			       "cannot clear ambient capabilities: %s",
			       strerror(errno));
	if (user) {
		/* needs CAP_SETUID/CAP_SETGID: before the cut below */
		ret = privs_switch_user(user, err, errlen);
		if (ret < 0)
			return ret;
	}
	ret = privs_get(&eff, &prm, &inh);
	if (ret < 0)
		return nb_errf(err, errlen, ret, "capget: %s",
			       strerror(-ret));
	keep = prm & PRIVS_KEEP;
	/* the uid change cleared the effective set: raise what we keep */
	ret = privs_set(keep, keep, 0);
	if (ret < 0)
		return nb_errf(err, errlen, ret,
			       "cannot set capabilities: %s",
			       strerror(-ret));
	/* paranoia: the way back must be closed */
	if (user && setresuid(0, 0, 0) == 0)
		return nb_errf(err, errlen, -EPERM,
				  "could switch back to root after dropping to '%s'",
			       user);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return nb_errf(err, errlen, -errno,
			       "cannot set no_new_privs: %s",
			       strerror(errno));
	ret = privs_get(&eff, &prm, &inh);
	if (ret < 0 || eff != keep || prm != keep || inh)
		return nb_errf(err, errlen, ret < 0 ? ret : -EPERM,
				  "capabilities not as expected after the drop (effective %#llx)",
			       (unsigned long long)eff);
	return 0;
}

static atomic_bool privs_switching;

void nb_privs_will_switch_user(bool yes)
{
	atomic_store(&privs_switching, yes);
}

int nb_privs_drop_thread(void)
{
	uint64_t keep = 0;

	if (atomic_load(&privs_switching))
		keep = (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID);
	return privs_set(keep, keep, 0);
}
