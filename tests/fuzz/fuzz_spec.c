/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the agent's attachment spec files (nb_spec_parse), text
 * anyone allowed to write the spec directory controls.  A spec that
 * parses must name a usable device, a volume and 1..SPEC_MAX_NODES
 * "host:port" nodes, have queue settings the daemon accepts, and parse
 * the same way twice.  Byte 0 picks the file's default name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "vol0", "a", "", "x/y", "control" };
	static struct spec defaults = {
		.ca = "/etc/vduse-netblk/ca.crt",
		.cert = "/etc/vduse-netblk/client.crt",
		.key = "/etc/vduse-netblk/client.key",
	};
	static struct spec a, b;
	const char *name;
	char err[256], err2[256];
	char *text;
	int ra, rb;

	if (size < 1)
		return 0;
	name = names[data[0] % (sizeof(names) / sizeof(names[0]))];
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	err[0] = err2[0] = '\0';
	ra = nb_spec_parse(text, name, &defaults, &a, err, sizeof(err));
	rb = nb_spec_parse(text, name, &defaults, &b, err2, sizeof(err2));
	free(text);
	if (ra != rb || (ra == 0 && !nb_spec_equal(&a, &b)))
		abort();	/* not deterministic */
	if (ra < 0) {
		if (!err[0] || strcmp(err, err2))
			abort();	/* refused without a (stable) reason */
		return 0;
	}
	if (!nb_spec_name_ok(a.name) || !a.volume[0] || a.n_nodes < 1 ||
	    a.n_nodes > SPEC_MAX_NODES || a.queues < 1 || a.queue_size < 4 ||
	    (a.queue_size & (a.queue_size - 1)) || !(a.io_timeout >= 0) ||
	    (a.lock_owner[0] && nb_options_check_lock_owner(a.lock_owner) < 0))
		abort();
	for (size_t i = 0; i < a.n_nodes; i++)
		if (!strchr(a.nodes[i], ':'))
			abort();
	return 0;
}
