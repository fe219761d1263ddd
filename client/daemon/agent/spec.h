/* SPDX-License-Identifier: MIT */
/*
 * Attachment spec files of the agent: one file NAME.spec per attached
 * volume, "key=value" lines ('#' starts a comment):
 *
 *   cluster=10.0.0.1:7001,10.0.0.2:7001   (required)
 *   volume=vol-17                          (required)
 *   name=DEVNAME          VDUSE/vDPA name (default: the file's NAME)
 *   queues=N  queue_size=N  read_only=true|false  io_timeout=SEC
 *   ca=FILE  cert=FILE  key=FILE  tls_name=NAME  mgmtdev=NAME
 *   tls_ciphersuites=LIST (TLS 1.3 suites in order, as --tls-ciphersuites;
 *                          checked by the agent when it attaches)
 *   break_lock=true|false take the volume's writer lock even from another
 *                          owner, at every attach (as --break-lock; also
 *                          spelled break-lock). Changing only this key
 *                          leaves an attached volume alone.
 *   lock_owner=OWNER      the writer lock's owner (default NAME@HOST)
 *   force_detach=true|false  a change of this spec that needs a detach
 *                          goes ahead even when the disk is in use
 *                          (mounted, held or open); not compared either
 *
 * volume= takes letters, digits, '.', '_' and '-' (the nodes' rule).
 */
#ifndef NETBLK_SPEC_H
#define NETBLK_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#define SPEC_MAX_NODES 64
#define SPEC_STR_MAX   255

struct spec {
	char name[SPEC_STR_MAX + 1];
	char volume[SPEC_STR_MAX + 1];
	char nodes[SPEC_MAX_NODES][SPEC_STR_MAX + 1]; /* "host:port" */
	size_t n_nodes;
	unsigned int queues;                 /* default 1 */
	unsigned int queue_size;             /* default 256 */
	bool read_only;
	double io_timeout;                   /* default 0 */
	char ca[SPEC_STR_MAX + 1], cert[SPEC_STR_MAX + 1], key[SPEC_STR_MAX + 1];
	char tls_name[SPEC_STR_MAX + 1];     /* "" = default */
	char tls_ciphersuites[SPEC_STR_MAX + 1]; /* "" = OpenSSL's default */
	char mgmtdev[SPEC_STR_MAX + 1];      /* "" = default */
	bool break_lock;
	bool force_detach;
	char lock_owner[SPEC_STR_MAX + 1];   /* "" = NAME@HOST */
};

/*
 * Parse a spec's text. default_name is the file's base name without
 * ".spec"; ca/cert/key/tls_ciphersuites defaults come from defaults (may
 * be NULL). Returns
 * 0, or -EINVAL with a message naming the line and the problem in err.
 */
int nb_spec_parse(const char *text, const char *default_name,
	       const struct spec *defaults, struct spec *out, char *err,
	       size_t errlen);

/* Is name usable as a device name (and so as a file name)? */
bool nb_spec_name_ok(const char *name);

/* Same content? (to ignore rewrites that change nothing; break_lock,
 * which only matters when the volume attaches, and force_detach are not
 * compared) */
bool nb_spec_equal(const struct spec *a, const struct spec *b);

#endif
