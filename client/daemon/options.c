/* SPDX-License-Identifier: MIT */
/* Defaults, limits and checks of a served volume's settings (options.h). */
#include <errno.h>
#include <limits.h>

#include "log.h"
#include "options.h"
#include "parse.h"
#include "session.h"
#include "state.h"

void nb_options_defaults(struct volume_config *cfg)
{
	*cfg = (struct volume_config){
		.ca = OPTIONS_DEFAULT_CA,
		.cert = OPTIONS_DEFAULT_CERT,
		.key = OPTIONS_DEFAULT_KEY,
		.state_dir = STATE_DEFAULT_DIR,
		.queues = OPTIONS_QUEUES_DEFAULT,
		.queue_size = OPTIONS_QUEUE_SIZE_DEFAULT,
		.bounce_size = (uint64_t)OPTIONS_BOUNCE_MB_DEFAULT << 20,
		.attach = true,
		.io_timeout = OPTIONS_IO_TIMEOUT_DEFAULT,
		.connect_timeout = OPTIONS_CONNECT_TIMEOUT_DEFAULT,
		.stop_timeout = OPTIONS_STOP_TIMEOUT_DEFAULT,
		.resize_check = OPTIONS_RESIZE_CHECK_DEFAULT,
		.log_level = LOG_NOTICE,
	};
}

int nb_options_parse_queues(const char *text, unsigned int *out)
{
	return nb_parse_uint(text, 1, OPTIONS_QUEUES_MAX, out);
}

int nb_options_parse_queue_size(const char *text, unsigned int *out)
{
	unsigned int v;
	int ret;

	ret = nb_parse_uint(text, OPTIONS_QUEUE_SIZE_MIN,
			    OPTIONS_QUEUE_SIZE_MAX, &v);
	if (ret < 0)
		return ret;
	if (v & (v - 1))
		return -EDOM;
	*out = v;
	return 0;
}

int nb_options_parse_bounce_mb(const char *text, unsigned int *out)
{
	unsigned int v;
	int ret;

	ret = nb_parse_uint(text, 0, OPTIONS_BOUNCE_MB_MAX, &v);
	if (ret < 0)
		return ret;
	if (v && v < OPTIONS_BOUNCE_MB_MIN)
		return -EDOM;
	*out = v;
	return 0;
}

int nb_options_parse_seconds(const char *text, double *out)
{
	return nb_parse_seconds(text, 0, OPTIONS_SECONDS_MAX, out);
}

int nb_options_parse_connect_timeout(const char *text, double *out)
{
	double v;
	int ret;

	ret = nb_options_parse_seconds(text, &v);
	if (ret < 0)
		return ret;
	if (v == 0)
		return -EDOM;
	*out = v;
	return 0;
}

int nb_options_check_node(const char *addr)
{
	char host[256], port[8];

	return nb_split_host_port(addr, host, sizeof(host), port,
				  sizeof(port));
}

int nb_options_check_lock_owner(const char *owner)
{
	return nb_session_lock_owner_ok(owner) ? 0 : -EINVAL;
}

int nb_options_lock_owner(const char *name, char *buf, size_t len)
{
	return nb_session_lock_owner_default(name, buf, len);
}
