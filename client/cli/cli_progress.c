/* SPDX-License-Identifier: MIT */
/*
 * netblk-cli progress (cli.h): a bar redrawn in place when standard error
 * is a terminal, lines at an interval otherwise, with the rate and the
 * time left. Everything goes to standard error, so that export to
 * standard output and --json stay clean.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CLI_PROGRESS_BAR_WIDTH  24
#define CLI_PROGRESS_REDRAW_NS  250000000ull /* terminal: 4 redraws a second */

void nb_cli_progress_start(struct cli_progress *pr,
			   const struct cli_common *opt, const char *cmd,
			   uint64_t total)
{
	memset(pr, 0, sizeof(*pr));
	pr->cmd = cmd;
	pr->total = total;
	pr->out = stderr;
	pr->tty = isatty(fileno(stderr));
	/* default: a bar on a terminal only; --progress: lines elsewhere */
	pr->on = opt->progress == 1 || (opt->progress < 0 && pr->tty);
	pr->interval_ns = (uint64_t)(opt->progress_interval * 1e9);
	if (!pr->interval_ns)
		pr->interval_ns = (uint64_t)(CLI_PROGRESS_LINES_S * 1e9);
	pr->t0 = pr->t_last = nb_cli_now_ns();
}

/* "1:02:03" or "2:03" */
static const char *cli_progress_hms(double secs, char *buf, size_t len)
{
	uint64_t s = secs > 0 && secs < 1e9 ? (uint64_t)(secs + 0.5) : 0;

	if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 ":%02u:%02u", s / 3600,
			 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
	else
		snprintf(buf, len, "%u:%02u", (unsigned)(s / 60),
			 (unsigned)(s % 60));
	return buf;
}

/* "12.5 MiB" */
static const char *cli_progress_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

int nb_cli_progress_format(char *buf, size_t len, const char *cmd,
			   uint64_t done, uint64_t total, double secs,
			   bool bar, bool final)
{
	char d[32], t[32], eta[32], bars[CLI_PROGRESS_BAR_WIDTH + 1];
	double rate = secs > 0 ? done / secs : 0;
	unsigned int pct = total ? (unsigned int)(done * 100 / total) : 100;

	if (pct > 100)
		pct = 100;
	cli_progress_size(done, d, sizeof(d));
	cli_progress_size(total, t, sizeof(t));
	if (final)
		snprintf(eta, sizeof(eta), "in %.1f s", secs);
	else if (rate > 0 && total > done)
		snprintf(eta, sizeof(eta), "ETA %s",
			 cli_progress_hms((total - done) / rate, bars,
					  sizeof(bars)));
	else
		snprintf(eta, sizeof(eta), "ETA -:--");
	if (!total)	/* unknown (standard input) */
		return snprintf(buf, len, "%s: %s, %.1f MB/s%s%s", cmd, d,
				rate / 1e6, final ? ", " : "",
				final ? eta : "");
	if (!bar)
		return snprintf(buf, len, "%s: %3u%% %s of %s, %.1f MB/s, %s",
				cmd, pct, d, t, rate / 1e6, eta);
	for (unsigned int i = 0; i < CLI_PROGRESS_BAR_WIDTH; i++)
		bars[i] = i < pct * CLI_PROGRESS_BAR_WIDTH / 100 ? '#' : '.';
	bars[CLI_PROGRESS_BAR_WIDTH] = '\0';
	return snprintf(buf, len, "%s [%s] %3u%% %s of %s, %.1f MB/s, %s",
			cmd, bars, pct, d, t, rate / 1e6, eta);
}

static void cli_progress_show(struct cli_progress *pr, uint64_t now,
			      bool final)
{
	char line[256];
	int n;

	n = nb_cli_progress_format(line, sizeof(line), pr->cmd, pr->done,
				   pr->total, (now - pr->t0) / 1e9, pr->tty,
				   final);
	if (pr->tty) {
		/* pad over a longer previous line */
		fprintf(pr->out, "\r%s%*s", line,
			pr->width > n ? pr->width - n : 0, "");
		if (final)
			fputc('\n', pr->out);
		pr->width = n;
	} else {
		fprintf(pr->out, "%s\n", line);
	}
	fflush(pr->out);
	pr->t_last = now;
	pr->shown = true;
}

void nb_cli_progress_update(struct cli_progress *pr, uint64_t done)
{
	uint64_t now;

	pr->done = done;
	if (!pr->on)
		return;
	now = nb_cli_now_ns();
	if (now - pr->t_last >= (pr->tty ? CLI_PROGRESS_REDRAW_NS :
				 pr->interval_ns))
		cli_progress_show(pr, now, false);
}

void nb_cli_progress_end(struct cli_progress *pr, bool ok)
{
	if (!pr->on)
		return;
	if (ok) {
		cli_progress_show(pr, nb_cli_now_ns(), true);
	} else if (pr->tty && pr->shown) {
		fputc('\n', pr->out);	/* keep the bar, end its line */
		fflush(pr->out);
	}
}
