/* SPDX-License-Identifier: MIT */
/* Parser of the agent's attachment spec files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "options.h"
#include "spec.h"

bool nb_spec_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return strcmp(name, "control") != 0;
}

/* The nodes' rule for volume names (server/request.c). */
static bool spec_volume_ok(const char *volume)
{
	size_t len = strlen(volume);

	return len > 0 && strspn(volume, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static bool spec_copy(char *dst, const char *src)
{
	size_t len = strlen(src);

	if (len > SPEC_STR_MAX)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

static int spec_cluster(struct spec *sp, const char *value, unsigned int line,
			char *err, size_t errlen)
{
	char buf[SPEC_MAX_NODES * 64], *save = NULL, *tok;

	if (strlen(value) >= sizeof(buf))
		return nb_errf(err, errlen, -EINVAL, "line %u: cluster list too long",
			       line);
	strcpy(buf, value);
	sp->n_nodes = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strchr(tok, ':') || (strlen(tok) <= SPEC_STR_MAX &&
					  nb_options_check_node(tok) < 0))
			return nb_errf(err, errlen, -EINVAL, "line %u: cluster "
				       "address '%.64s' is not host:port",
				       line, tok);
		if (sp->n_nodes == SPEC_MAX_NODES)
			return nb_errf(err, errlen, -EINVAL, "line %u: more than %d "
				       "cluster addresses", line,
				       SPEC_MAX_NODES);
		if (!spec_copy(sp->nodes[sp->n_nodes], tok))
			return nb_errf(err, errlen, -EINVAL, "line %u: cluster "
				       "address too long", line);
		sp->n_nodes++;
	}
	if (!sp->n_nodes)
		return nb_errf(err, errlen, -EINVAL, "line %u: empty cluster", line);
	return 0;
}

static int spec_line(struct spec *sp, char *key, char *value,
		     unsigned int line, char *err, size_t errlen)
{
	struct { const char *key; char *dst; } strs[] = {
		{ "volume", sp->volume }, { "name", sp->name },
		{ "ca", sp->ca }, { "cert", sp->cert }, { "key", sp->key },
		{ "tls_name", sp->tls_name }, { "mgmtdev", sp->mgmtdev },
		{ "tls_ciphersuites", sp->tls_ciphersuites },
	};
	unsigned int i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(key, strs[i].key) == 0) {
			if (!*value || !spec_copy(strs[i].dst, value))
				return nb_errf(err, errlen, -EINVAL, "line %u: %s "
					       "is empty or longer than %d",
					       line, key, SPEC_STR_MAX);
			return 0;
		}
	}
	if (strcmp(key, "cluster") == 0)
		return spec_cluster(sp, value, line, err, errlen);
	if (strcmp(key, "queues") == 0) {
		if (nb_options_parse_queues(value, &sp->queues) < 0)
			return nb_errf(err, errlen, -EINVAL, "line %u: queues '%.32s' "
				       "is not a number from 1 to %u", line,
				       value, OPTIONS_QUEUES_MAX);
		return 0;
	}
	if (strcmp(key, "queue_size") == 0) {
		if (nb_options_parse_queue_size(value, &sp->queue_size) < 0)
			return nb_errf(err, errlen, -EINVAL, "line %u: queue_size "
				       "'%.32s' is not a power of two from %u "
				       "to %u", line, value,
				       OPTIONS_QUEUE_SIZE_MIN,
				       OPTIONS_QUEUE_SIZE_MAX);
		return 0;
	}
	if (strcmp(key, "read_only") == 0) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return nb_errf(err, errlen, -EINVAL, "line %u: read_only must "
				       "be true or false", line);
		sp->read_only = value[0] == 't';
		return 0;
	}
	if (strcmp(key, "break_lock") == 0 || strcmp(key, "break-lock") == 0) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return nb_errf(err, errlen, -EINVAL, "line %u: %s must "
				       "be true or false", line, key);
		sp->break_lock = value[0] == 't';
		return 0;
	}
	if (strcmp(key, "force_detach") == 0) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return nb_errf(err, errlen, -EINVAL, "line %u: %s must "
				       "be true or false", line, key);
		sp->force_detach = value[0] == 't';
		return 0;
	}
	if (strcmp(key, "lock_owner") == 0) {
		if (nb_options_check_lock_owner(value) < 0)
			return nb_errf(err, errlen, -EINVAL, "line %u: lock_owner "
				       "must be 1 to %d bytes without control "
				       "characters", line, SPEC_STR_MAX);
		strcpy(sp->lock_owner, value);
		return 0;
	}
	if (strcmp(key, "io_timeout") == 0) {
		if (nb_options_parse_seconds(value, &sp->io_timeout) < 0)
			return nb_errf(err, errlen, -EINVAL, "line %u: io_timeout "
				       "'%.32s' is not a number of seconds",
				       line, value);
		return 0;
	}
	return nb_errf(err, errlen, -EINVAL, "line %u: unknown key '%.32s'", line,
		       key);
}

static char *spec_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int nb_spec_parse(const char *text, const char *default_name,
	       const struct spec *defaults, struct spec *out, char *err,
	       size_t errlen)
{
	char *copy, *line, *next;
	unsigned int n = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (defaults) {
		memcpy(out->ca, defaults->ca, sizeof(out->ca));
		memcpy(out->cert, defaults->cert, sizeof(out->cert));
		memcpy(out->key, defaults->key, sizeof(out->key));
		memcpy(out->tls_ciphersuites, defaults->tls_ciphersuites,
		       sizeof(out->tls_ciphersuites));
	}
	out->queues = OPTIONS_QUEUES_DEFAULT;
	out->queue_size = OPTIONS_QUEUE_SIZE_DEFAULT;
	out->io_timeout = OPTIONS_IO_TIMEOUT_DEFAULT;
	if (!spec_copy(out->name, default_name))
		return nb_errf(err, errlen, -EINVAL, "file name too long");
	if (strlen(text) > 64 * 1024)
		return nb_errf(err, errlen, -EINVAL, "spec larger than 64 KiB");
	copy = strdup(text);
	if (!copy)
		return nb_errf(err, errlen, -EINVAL, "out of memory");
	for (line = copy; line && ret == 0; line = next) {
		char *eq, *hash;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line = spec_trim(line);
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			ret = nb_errf(err, errlen, -EINVAL, "line %u: expected "
				      "key=value", n);
			break;
		}
		*eq = '\0';
		ret = spec_line(out, spec_trim(line), spec_trim(eq + 1), n, err,
				errlen);
	}
	free(copy);
	if (ret)
		return ret;
	if (!out->n_nodes)
		return nb_errf(err, errlen, -EINVAL, "no cluster= line");
	if (!out->volume[0])
		return nb_errf(err, errlen, -EINVAL, "no volume= line");
	if (!spec_volume_ok(out->volume))
		return nb_errf(err, errlen, -EINVAL, "volume '%.64s' is not a "
			       "volume name (letters, digits, '.', '_', '-')",
			       out->volume);
	if (!nb_spec_name_ok(out->name))
		return nb_errf(err, errlen, -EINVAL, "device name '%.64s' is not "
			       "usable (letters, digits, '-', '_', '.', at "
			       "most 64)", out->name);
	return 0;
}

bool nb_spec_equal(const struct spec *a, const struct spec *b)
{
	size_t i;

	if (a->n_nodes != b->n_nodes || a->queues != b->queues ||
	    a->queue_size != b->queue_size || a->read_only != b->read_only ||
	    a->io_timeout != b->io_timeout || strcmp(a->name, b->name) ||
	    strcmp(a->volume, b->volume) || strcmp(a->ca, b->ca) ||
	    strcmp(a->cert, b->cert) || strcmp(a->key, b->key) ||
	    strcmp(a->tls_name, b->tls_name) || strcmp(a->mgmtdev, b->mgmtdev) ||
	    strcmp(a->tls_ciphersuites, b->tls_ciphersuites) ||
	    strcmp(a->lock_owner, b->lock_owner))
		return false;
	for (i = 0; i < a->n_nodes; i++)
		if (strcmp(a->nodes[i], b->nodes[i]))
			return false;
	return true;
}
