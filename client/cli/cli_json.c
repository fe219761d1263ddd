/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli --json (cli.h): the objects several commands share, built
 * with json-c, and printing one document on standard output.
 */
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

#include "cli.h"

struct json_object *cli_json_engine_stats(const struct cli_ctx *ctx)
{
	struct json_object *o = json_object_new_object();
	struct session_stats st;

	nb_session_get_stats(ctx->cluster, &st);
	json_object_object_add(o, "requests", json_object_new_uint64(st.requests));
	json_object_object_add(o, "retries", json_object_new_uint64(st.retries));
	json_object_object_add(o, "reconnects",
			       json_object_new_uint64(st.reconnects));
	json_object_object_add(o, "timeouts", json_object_new_uint64(st.timeouts));
	json_object_object_add(o, "map_refreshes",
			       json_object_new_uint64(st.map_refreshes));
	json_object_object_add(o, "failed_ios", json_object_new_uint64(st.errors));
	return o;
}

int cli_json_print(struct json_object *doc)
{
	const char *text = json_object_to_json_string_ext(doc,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int ret = 0;

	if (!text || printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		nb_cli_err("cannot write the JSON output");
		ret = -EIO;
	}
	json_object_put(doc);
	return ret;
}

void cli_json_add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

void cli_json_add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

void cli_json_add_double(struct json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, json_object_new_double(v));
}

void cli_json_add_bool(struct json_object *o, const char *key, bool v)
{
	json_object_object_add(o, key, json_object_new_boolean(v));
}
