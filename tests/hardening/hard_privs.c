/* SPDX-License-Identifier: MIT */
/* nb_privs_drop(): after the drop the daemon keeps CAP_NET_ADMIN only, runs as
 * the named user, cannot get root back or gain privileges through exec,
 * still uses descriptors it opened before (as it does /dev/vduse/NAME),
 * and threads started earlier lose everything with the uid change.
 * Needs root (exit 77 otherwise).  Each case runs in a child process.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privs.h"

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		exit(1); \
	} \
} while (0)

/* Field of /proc/self/task/TID/status as text. */
static void hp_status(pid_t tid, const char *field, char *out, size_t len)
{
	char path[64], line[256];
	size_t n = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	CHECK(f, "open %s: %s", path, strerror(errno));
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':') {
			snprintf(out, len, "%s", line + n + 1 +
				 strspn(line + n + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	}
	fclose(f);
}

static unsigned long long hp_cap(pid_t tid, const char *field)
{
	char v[64];

	hp_status(tid, field, v, sizeof(v));
	return strtoull(v, NULL, 16);
}

static pthread_mutex_t hp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hp_cond = PTHREAD_COND_INITIALIZER;
static pid_t hp_worker_tid;
static int hp_stage;		/* 1 worker up, 2 main dropped, 3 done */
static bool hp_worker_drops;
static bool hp_worker_drops_early;	/* before the main thread's drop */
static unsigned long long hp_worker_eff;

static void *hp_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hp_lock);
	hp_worker_tid = (pid_t)syscall(SYS_gettid);
	if (hp_worker_drops_early)
		CHECK(nb_privs_drop_thread() == 0, "early privs_drop_thread failed");
	hp_stage = 1;
	pthread_cond_broadcast(&hp_cond);
	while (hp_stage < 2)
		pthread_cond_wait(&hp_cond, &hp_lock);
	if (hp_worker_drops)
		CHECK(nb_privs_drop_thread() == 0, "privs_drop_thread failed");
	hp_worker_eff = hp_cap(hp_worker_tid, "CapEff");
	hp_stage = 3;
	pthread_cond_broadcast(&hp_cond);
	pthread_mutex_unlock(&hp_lock);
	return NULL;
}

/* Drop (to @user or not) with a worker thread running, check everything. */
static void hp_case_drop(const char *user)
{
	pid_t me = getpid();
	struct passwd *pw = user ? getpwnam(user) : NULL;
	char secret[] = "/tmp/hard_privs.XXXXXX", err[256], buf[8], v[64];
	pthread_t th;
	int fd, ret;

	fd = mkstemp(secret);		/* mode 0600, owned by root */
	CHECK(fd >= 0 && write(fd, "vduse", 5) == 5, "mkstemp");
	hp_worker_drops = !user;
	CHECK(pthread_create(&th, NULL, hp_worker, NULL) == 0, "thread");
	pthread_mutex_lock(&hp_lock);
	while (hp_stage < 1)
		pthread_cond_wait(&hp_cond, &hp_lock);
	pthread_mutex_unlock(&hp_lock);

	err[0] = '\0';
	ret = nb_privs_drop(user, err, sizeof(err));
	CHECK(ret == 0, "privs_drop(%s) = %d: %s", user ? user : "NULL", ret,
	      err);

	pthread_mutex_lock(&hp_lock);
	hp_stage = 2;
	pthread_cond_broadcast(&hp_cond);
	while (hp_stage < 3)
		pthread_cond_wait(&hp_cond, &hp_lock);
	pthread_mutex_unlock(&hp_lock);
	pthread_join(th, NULL);

	CHECK(hp_cap(me, "CapEff") == PRIVS_KEEP, "CapEff %#llx, want %#llx",
	      hp_cap(me, "CapEff"), (unsigned long long)PRIVS_KEEP);
	CHECK(hp_cap(me, "CapPrm") == PRIVS_KEEP, "CapPrm %#llx",
	      hp_cap(me, "CapPrm"));
	CHECK(hp_cap(me, "CapInh") == 0 && hp_cap(me, "CapAmb") == 0,
	      "inheritable or ambient capabilities left");
	CHECK(hp_cap(me, "CapBnd") == PRIVS_KEEP, "CapBnd %#llx",
	      hp_cap(me, "CapBnd"));
	hp_status(me, "NoNewPrivs", v, sizeof(v));
	CHECK(!strcmp(v, "1"), "NoNewPrivs is '%s'", v);
	CHECK(nb_privs_effective() == PRIVS_KEEP, "privs_effective");
	CHECK(hp_worker_eff == 0, "a thread started before the drop kept "
	      "capabilities %#llx", hp_worker_eff);
	/* the descriptor opened before still works, a new open does not */
	CHECK(pread(fd, buf, 5, 0) == 5 && !memcmp(buf, "vduse", 5),
	      "descriptor opened before the drop unusable");
	if (user) {
		CHECK(getuid() == pw->pw_uid && geteuid() == pw->pw_uid &&
		      getgid() == pw->pw_gid, "still uid %u", getuid());
		CHECK(open(secret, O_RDONLY) < 0 && errno == EACCES,
		      "opened a root-only file after the drop");
		CHECK(setuid(0) < 0, "got root back");
	} else {
		/* root without CAP_DAC_OVERRIDE: 0600 root file still ok,
		 * but a file of another owner is not */
		CHECK(fchown(fd, 65534, 65534) < 0 && errno == EPERM,
		      "chown worked without CAP_CHOWN");
	}
	close(fd);
	exit(0);
}

/* As the daemon does with --user: the worker drops at its start, before
 * the switch (which glibc makes in every thread); the switch must work and
 * leave the worker nothing. */
static void hp_case_early(const char *user)
{
	char err[256] = "";
	pthread_t th;
	int ret;

	nb_privs_will_switch_user(true);
	hp_worker_drops_early = true;
	CHECK(pthread_create(&th, NULL, hp_worker, NULL) == 0, "thread");
	pthread_mutex_lock(&hp_lock);
	while (hp_stage < 1)
		pthread_cond_wait(&hp_cond, &hp_lock);
	pthread_mutex_unlock(&hp_lock);
	CHECK(hp_cap(hp_worker_tid, "CapEff") ==
	      ((1ULL << CAP_SETUID) | (1ULL << CAP_SETGID)),
	      "worker before the switch has %#llx",
	      hp_cap(hp_worker_tid, "CapEff"));
	ret = nb_privs_drop(user, err, sizeof(err));
	CHECK(ret == 0, "privs_drop(%s) = %d: %s", user, ret, err);
	pthread_mutex_lock(&hp_lock);
	hp_stage = 2;
	pthread_cond_broadcast(&hp_cond);
	while (hp_stage < 3)
		pthread_cond_wait(&hp_cond, &hp_lock);
	pthread_mutex_unlock(&hp_lock);
	pthread_join(th, NULL);
	CHECK(hp_worker_eff == 0, "worker kept %#llx after the switch",
	      hp_worker_eff);
	CHECK(hp_cap(getpid(), "CapEff") == PRIVS_KEEP, "CapEff %#llx",
	      hp_cap(getpid(), "CapEff"));
	exit(0);
}

static void hp_case_error(const char *user, int want, const char *text)
{
	char err[256] = "";
	int ret = nb_privs_drop(user, err, sizeof(err));

	CHECK(ret == want, "privs_drop(%s) = %d, want %d", user, ret, want);
	CHECK(strstr(err, text), "message '%s' lacks '%s'", err, text);
	exit(0);
}

static void hp_run(const char *name, void (*fn)(const char *), const char *arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();

	if (pid == 0)
		fn(arg);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		printf("ok   %s\n", name);
	} else {
		printf("FAIL %s\n", name);
		failures++;
	}
}

static void hp_unknown(const char *arg)
{
	(void)arg;
	hp_case_error("no-such-user-netblk", -ENOENT, "no-such-user-netblk");
}

static void hp_root(const char *arg)
{
	(void)arg;
	hp_case_error("root", -EINVAL, "root");
}

int main(void)
{
	const char *user = getenv("NETBLK_PRIVS_USER");

	if (!user)
		user = "nobody";
	if (geteuid() != 0 || !(nb_privs_effective() & (1ULL << CAP_SETUID)) ||
	    !(nb_privs_effective() & (1ULL << CAP_NET_ADMIN))) {
		printf("SKIP: needs root with CAP_SETUID and CAP_NET_ADMIN\n");
		return 77;
	}
	if (!getpwnam(user)) {
		printf("SKIP: no user '%s' to drop to\n", user);
		return 77;
	}
	hp_run("drop to a user keeps CAP_NET_ADMIN only", hp_case_drop, user);
	hp_run("drop without a user keeps CAP_NET_ADMIN only", hp_case_drop,
	       NULL);
	hp_run("threads that dropped early do not break the switch",
	       hp_case_early, user);
	hp_run("unknown user refused by name", hp_unknown, NULL);
	hp_run("root refused as --user", hp_root, NULL);
	return failures ? 1 : 0;
}
