/* SPDX-License-Identifier: MIT */
/* netblk-server-mock: glue between options, server, control and the loop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mock.h"

/* Refuse unreadable inputs before anything starts, naming the option. */
static int mock_main_check_files(const struct mock_config *cfg)
{
	const struct { const char *opt, *path; } files[] = {
		{ "--cert", cfg->cert }, { "--key", cfg->key }, { "--ca", cfg->ca },
		{ "--map", cfg->map_path },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].path && access(files[i].path, R_OK) < 0) {
			fprintf(stderr, "%s: %s %s: cannot read: %s\n", MOCK_PROG,
				files[i].opt, files[i].path, strerror(errno));
			return -errno;
		}
	}
	if (cfg->volume_dir && (stat(cfg->volume_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "%s: --volume-dir %s: not a directory\n", MOCK_PROG,
			cfg->volume_dir);
		return -ENOTDIR;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct mock_server ms;
	struct mock_config cfg;
	struct ev_loop *loop;
	struct nb_srv_stats st;
	int r, status = 0;

	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return mock_ctl_main(argc - 1, argv + 1);

	r = mock_options_parse(argc, argv, &cfg);
	if (r != 0) {
		mock_options_free(&cfg);
		return r > 0 ? 0 : MOCK_EXIT_USAGE;
	}
	nb_log_init(MOCK_PROG, cfg.log_level);
	nb_log_set_style(LOG_STYLE_TIME_TAG);
	nb_log_set_tag(MOCK_PROG);
	if (mock_main_check_files(&cfg) < 0) {
		mock_options_free(&cfg);
		return MOCK_EXIT_RUNTIME;
	}
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		fprintf(stderr, "%s: cannot create the event loop\n", MOCK_PROG);
		mock_options_free(&cfg);
		return MOCK_EXIT_RUNTIME;
	}
	if (mock_server_init(&ms, loop, &cfg) < 0) {
		mock_options_free(&cfg);
		return MOCK_EXIT_RUNTIME;
	}
	for (size_t i = 0; i < cfg.n_faults; i++) {
		char answer[1024];

		if (mock_command_exec(&ms, cfg.faults[i], answer, sizeof(answer)) < 0) {
			fprintf(stderr, "%s: --fault \"%s\": %s\n", MOCK_PROG, cfg.faults[i],
				answer);
			status = MOCK_EXIT_USAGE;
			goto out_fini;
		}
	}
	if (!nb_srv_quitting(ms.srv) && nb_srv_run(ms.srv) < 0)
		status = MOCK_EXIT_RUNTIME;
	nb_srv_get_stats(ms.srv, &st);
	mock_info("exiting: %llu connections served, %llu requests",
		  (unsigned long long)st.connections,
		  (unsigned long long)st.requests);
out_fini:
	mock_server_fini(&ms);
	mock_options_free(&cfg);
	return status;
}
