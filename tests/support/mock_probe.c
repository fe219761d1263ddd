/* SPDX-License-Identifier: MIT */
/*
 * mock_probe: a minimal blocking TLS client of the netblk protocol, used by
 * the mock_*.sh tests to talk to netblk-server-mock without the engine.
 *
 *   mock_probe --connect HOST:PORT --ca F --cert F --key F STEP...
 *
 * Each STEP is one argument: words separated by spaces, optionally
 * preceded by "!STATUS" (the reply status expected, default OK). Steps:
 *
 *   use K                   switch to connection K (0..3; connects lazily)
 *   hs [INFLIGHT [IOSIZE]]  HANDSHAKE (prints the grant)
 *   hsver VERSION           HANDSHAKE with a protocol version
 *   open NAME [ro] [owner=O] [break] [gen=G|gen=last]
 *                           OPEN (prints the volume, map epoch and the lock:
 *                           "lock_owner=O lock_gen=G"); owner= takes the
 *                           writer lock, break breaks it, gen= names the
 *                           generation held before (last: the one the
 *                           previous OPEN or UNLOCK reply of this run named)
 *   unlock NAME [by=O] [gen=G|gen=last]  UNLOCK (prints the lock after)
 *   info NAME | create NAME SIZE [BS] | ping | getmap
 *   delete NAME [owner=O] [break] | resize NAME SIZE
 *   write OFF LEN SEED [fua] | read OFF LEN SEED | readz OFF LEN
 *   flush | discard OFF LEN | wz OFF LEN [unmap]
 *   rflags FLAGS OFF LEN    READ with raw flag bits
 *   trickle OFF LEN SEED    WRITE sent in 1..7 byte TLS records, read back
 *   pipeline N LEN SEED     N writes then N reads in flight at once
 *   send OP OFF LEN SEED    send READ/WRITE without waiting
 *   recv N                  wait for N replies, all with the expected status
 *   tally N                 wait for N replies, print the count of each status
 *   badmagic | badlen | bigread | bighdr | junkhdr
 *                           protocol violations; expect the close
 *   closed                  the server must close the connection
 *   bench read|write SECS QD LEN   random I/O at queue depth QD; prints IOPS
 *   run CMD                 run a shell command, which must succeed
 *   sleep MS
 *
 * Every reply is printed as "step: STATUS epoch=N message" so scripts can
 * grep for details. Exits 0 when every step got what it expected.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "map.h"
#include "parse.h"
#include "rpc.h"

#define PROBE_CONNS 4
#define PROBE_MAX_WORDS 8

struct probe_conn {
	int fd;
	SSL *ssl;
	uint64_t next_id;
	uint32_t max_inflight, max_io;
	uint64_t vol_size;
};

static SSL_CTX *probe_ctx;
static const char *probe_host, *probe_port;
static struct probe_conn probe_conns[PROBE_CONNS];
static struct probe_conn *probe_cur;
static const char *probe_step;
static uint64_t probe_last_gen;  /* the lock generation of the last OPEN/UNLOCK reply */

static void probe_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void probe_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mock_probe: step '%s': ", probe_step ? probe_step : "-");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static uint8_t probe_pattern(uint64_t off, uint64_t seed)
{
	return (uint8_t)(((off >> 9) * 131u + (off & 511u) * 7u + seed * 29u) ^ (off >> 17));
}

static void probe_connect(struct probe_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct timeval tv = { .tv_sec = 30 };
	int r;

	r = getaddrinfo(probe_host, probe_port, &hints, &res);
	if (r)
		probe_die("resolve %s: %s", probe_host, gai_strerror(r));
	c->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) < 0)
		probe_die("connect %s:%s: %s", probe_host, probe_port, strerror(errno));
	freeaddrinfo(res);
	/* A hung server fails the test instead of blocking it forever. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->ssl = SSL_new(probe_ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		probe_die("TLS handshake failed");
	c->next_id = 1000;
}

static void probe_send(struct probe_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		int n = SSL_write(c->ssl, p, len > 65536 ? 65536 : (int)len);

		if (n <= 0)
			probe_die("SSL_write failed (error %d)", SSL_get_error(c->ssl, n));
		p += n;
		len -= (size_t)n;
	}
}

/* 0, or -1 when the server closed the connection. */
static int probe_recv(struct probe_conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		int n = SSL_read(c->ssl, p, len > 65536 ? 65536 : (int)len);

		if (n <= 0) {
			int err = SSL_get_error(c->ssl, n);

			if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ||
			    err == SSL_ERROR_SSL) {
				ERR_clear_error();
				return -1;
			}
			probe_die("SSL_read failed (error %d, %s)", err, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void probe_send_request(struct probe_conn *c, const struct rpc_request *req,
			       const void *data, uint32_t data_len)
{
	uint8_t head[8192];
	int n = nb_rpc_request_encode(req, data_len, head, sizeof(head));

	if (n < 0)
		probe_die("cannot encode request: %s", strerror(-n));
	probe_send(c, head, (size_t)n);
	if (data_len)
		probe_send(c, data, data_len);
}

/* Receive one reply; data (if any) into *data (malloc'd). -1 on close. */
static int probe_recv_reply(struct probe_conn *c, struct rpc_reply *rep,
			    uint8_t **data, uint32_t *data_len)
{
	uint8_t fh_buf[RPC_FRAME_HDR_SIZE];
	struct rpc_frame_hdr fh;
	uint8_t *hdr;
	int r;

	if (probe_recv(c, fh_buf, sizeof(fh_buf)) < 0)
		return -1;
	r = nb_rpc_frame_hdr_decode(fh_buf, &fh, RPC_MAX_DATA_LEN);
	if (r < 0 || fh.kind != RPC_KIND_REPLY)
		probe_die("bad reply frame header (%d)", r);
	hdr = malloc(fh.hdr_len ? fh.hdr_len : 1);
	if (!hdr || probe_recv(c, hdr, fh.hdr_len) < 0)
		probe_die("connection closed inside a reply");
	if (nb_rpc_reply_decode(hdr, fh.hdr_len, rep) < 0)
		probe_die("undecodable reply header");
	free(hdr);
	*data = NULL;
	*data_len = fh.data_len;
	if (fh.data_len) {
		*data = malloc(fh.data_len);
		if (!*data || probe_recv(c, *data, fh.data_len) < 0)
			probe_die("connection closed inside reply data");
	}
	return 0;
}

static void probe_check_status(const struct rpc_reply *rep, enum rpc_status want)
{
	printf("%s: %s epoch=%llu%s%s\n", probe_step, nb_rpc_status_name(rep->status),
	       (unsigned long long)rep->epoch, rep->message[0] ? " " : "", rep->message);
	if (rep->status != want)
		probe_die("expected %s, got %s (%s)", nb_rpc_status_name(want),
			  nb_rpc_status_name(rep->status), rep->message);
}

/* Send one request, wait for its reply (must carry the same id). */
static void probe_call(struct rpc_request *req, const void *data, uint32_t data_len,
		       enum rpc_status want, struct rpc_reply *rep, uint8_t **rdata,
		       uint32_t *rdata_len)
{
	struct probe_conn *c = probe_cur;

	req->id = c->next_id++;
	probe_send_request(c, req, data, data_len);
	if (probe_recv_reply(c, rep, rdata, rdata_len) < 0)
		probe_die("server closed the connection instead of answering");
	if (rep->id != req->id)
		probe_die("reply id %llu for request %llu", (unsigned long long)rep->id,
			  (unsigned long long)req->id);
	probe_check_status(rep, want);
	if (rep->status != RPC_STATUS_OK && *rdata_len)
		probe_die("%s reply carries %u data bytes", nb_rpc_status_name(rep->status),
			  *rdata_len);
}

static void probe_simple(struct rpc_request *req, enum rpc_status want,
			 struct rpc_reply *rep)
{
	uint8_t *data;
	uint32_t len;

	probe_call(req, NULL, 0, want, rep, &data, &len);
	if (len)
		probe_die("unexpected %u data bytes in a %s reply", len, nb_rpc_op_name(req->op));
}

static uint64_t probe_num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		probe_die("bad number \"%s\"", s);
	return v;
}

static enum rpc_status probe_status_of(const char *name)
{
	for (int s = 0; s < RPC_STATUS_MAX; s++) {
		const char *n = nb_rpc_status_name((enum rpc_status)s);

		if (strcasecmp(n, name) == 0 ||
		    (strncasecmp(n, "STATUS_", 7) == 0 && strcasecmp(n + 7, name) == 0))
			return (enum rpc_status)s;
	}
	probe_die("unknown status %s", name);
}

static void probe_fill(uint8_t *buf, uint64_t off, uint64_t len, uint64_t seed)
{
	for (uint64_t i = 0; i < len; i++)
		buf[i] = probe_pattern(off + i, seed);
}

static void probe_verify(const uint8_t *buf, uint64_t off, uint64_t len, int64_t seed)
{
	for (uint64_t i = 0; i < len; i++) {
		uint8_t want = seed < 0 ? 0 : probe_pattern(off + i, (uint64_t)seed);

		if (buf[i] != want)
			probe_die("byte at offset %llu is 0x%02x, expected 0x%02x",
				  (unsigned long long)(off + i), buf[i], want);
	}
}

static void probe_expect_closed(struct probe_conn *c)
{
	struct rpc_reply rep;
	uint8_t *data;
	uint32_t len;

	/* Replies sent before the close may still arrive; then EOF. */
	for (int i = 0; i < 1000; i++) {
		if (probe_recv_reply(c, &rep, &data, &len) < 0) {
			printf("%s: connection closed by the server\n", probe_step);
			SSL_free(c->ssl);
			close(c->fd);
			c->ssl = NULL;
			c->fd = -1;
			return;
		}
		free(data);
		nb_rpc_reply_clear(&rep);
	}
	probe_die("server kept the connection open");
}

static void probe_rw(enum rpc_op op, uint64_t off, uint64_t len, int64_t seed,
		     uint32_t flags, enum rpc_status want)
{
	struct rpc_request req = { .op = op, .offset = off, .length = len, .flags = flags };
	struct rpc_reply rep;
	uint8_t *buf = NULL, *rdata;
	uint32_t rlen;

	if (op == RPC_OP_WRITE) {
		buf = malloc(len ? len : 1);
		if (!buf)
			probe_die("out of memory");
		probe_fill(buf, off, len, (uint64_t)seed);
	}
	probe_call(&req, buf, op == RPC_OP_WRITE ? (uint32_t)len : 0, want, &rep,
		   &rdata, &rlen);
	if (op == RPC_OP_READ && rep.status == RPC_STATUS_OK) {
		if (rlen != len)
			probe_die("READ reply carries %u bytes, asked %llu", rlen,
				  (unsigned long long)len);
		probe_verify(rdata, off, len, seed);
	} else if (rlen) {
		probe_die("unexpected %u data bytes", rlen);
	}
	free(rdata);
	free(buf);
	nb_rpc_reply_clear(&rep);
}

static void probe_pipeline(uint32_t n, uint64_t len, uint64_t seed)
{
	struct probe_conn *c = probe_cur;
	uint8_t *buf = malloc(len), *seen = calloc(n, 1);
	uint64_t base = c->next_id;

	if (!buf || !seen)
		probe_die("out of memory");
	for (int pass = 0; pass < 2; pass++) {
		enum rpc_op op = pass == 0 ? RPC_OP_WRITE : RPC_OP_READ;

		base = c->next_id;
		memset(seen, 0, n);
		for (uint32_t i = 0; i < n; i++) {
			struct rpc_request req = { .id = c->next_id++, .op = op,
						   .offset = i * len, .length = len };

			if (op == RPC_OP_WRITE)
				probe_fill(buf, i * len, len, seed);
			probe_send_request(c, &req, buf, op == RPC_OP_WRITE ? (uint32_t)len : 0);
		}
		for (uint32_t k = 0; k < n; k++) {
			struct rpc_reply rep;
			uint8_t *data;
			uint32_t dlen;
			uint64_t i;

			if (probe_recv_reply(c, &rep, &data, &dlen) < 0)
				probe_die("connection closed with replies missing");
			if (rep.id < base || rep.id >= base + n || seen[rep.id - base])
				probe_die("unexpected reply id %llu", (unsigned long long)rep.id);
			i = rep.id - base;
			seen[i] = 1;
			if (rep.status != RPC_STATUS_OK)
				probe_die("%s %llu: %s %s", nb_rpc_op_name(op), (unsigned long long)i,
					  nb_rpc_status_name(rep.status), rep.message);
			if (op == RPC_OP_READ) {
				if (dlen != len)
					probe_die("READ reply with %u bytes", dlen);
				probe_verify(data, i * len, len, (int64_t)seed);
			}
			free(data);
			nb_rpc_reply_clear(&rep);
		}
	}
	printf("%s: OK %u writes and %u reads of %llu bytes in flight\n", probe_step, n, n,
	       (unsigned long long)len);
	free(buf);
	free(seen);
}

static double probe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keep qd random requests of len bytes in flight for secs seconds; print IOPS. */
static void probe_bench(bool wr, double secs, uint32_t qd, uint64_t len)
{
	struct probe_conn *c = probe_cur;
	uint64_t blocks = c->vol_size / len, done = 0, sent = 0, rnd = 88172645463325252ull;
	uint8_t *buf = calloc(1, len);
	double start = probe_now(), end = start + secs;

	if (!buf || blocks == 0)
		probe_die("bench needs an open volume larger than %llu bytes", (unsigned long long)len);
	for (;;) {
		bool more = probe_now() < end;

		while (more && sent - done < qd) {
			struct rpc_request req = { .id = c->next_id++,
						   .op = wr ? RPC_OP_WRITE : RPC_OP_READ,
						   .length = len };

			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			req.offset = (rnd % blocks) * len;
			probe_send_request(c, &req, buf, wr ? (uint32_t)len : 0);
			sent++;
		}
		if (done == sent)
			break;
		struct rpc_reply rep;
		uint8_t *data;
		uint32_t dlen;

		if (probe_recv_reply(c, &rep, &data, &dlen) < 0)
			probe_die("connection closed during bench");
		if (rep.status != RPC_STATUS_OK)
			probe_die("bench request failed: %s", nb_rpc_status_name(rep.status));
		free(data);
		nb_rpc_reply_clear(&rep);
		done++;
	}
	secs = probe_now() - start;
	printf("%s: %llu %s of %llu bytes at QD%u in %.2f s: %.0f IOPS, %.1f MiB/s\n", probe_step,
	       (unsigned long long)done, wr ? "writes" : "reads", (unsigned long long)len, qd,
	       secs, done / secs, done * (double)len / secs / 1048576);
	free(buf);
}

static void probe_run_step(char *step)
{
	char *w[PROBE_MAX_WORDS] = { 0 };
	enum rpc_status want = RPC_STATUS_OK;
	struct rpc_request req = { 0 };
	struct rpc_reply rep;
	char *save = NULL;
	int n = 0;

	for (char *t = strtok_r(step, " ", &save); t && n < PROBE_MAX_WORDS;
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	if (n > 0 && w[0][0] == '!') {
		want = probe_status_of(w[0] + 1);
		memmove(w, w + 1, sizeof(w) - sizeof(w[0]));
		w[PROBE_MAX_WORDS - 1] = NULL;
		n--;
	}
	if (n == 0)
		probe_die("empty step");
	if (strcmp(w[0], "run") == 0) {
		const char *cmd = strstr(probe_step, "run ") + 4;
		int r = system(cmd);

		if (r != 0)
			probe_die("command failed (status %d)", r);
		printf("%s: ok\n", probe_step);
		return;
	}
	if (strcmp(w[0], "sleep") == 0) {
		usleep((useconds_t)probe_num(w[1]) * 1000);
		return;
	}
	if (strcmp(w[0], "use") == 0) {
		uint64_t k = probe_num(w[1]);

		if (k >= PROBE_CONNS)
			probe_die("connection index out of range");
		probe_cur = &probe_conns[k];
		return;
	}
	if (!probe_cur->ssl)
		probe_connect(probe_cur);

	if (strcmp(w[0], "hs") == 0 || strcmp(w[0], "hsver") == 0) {
		bool ver = strcmp(w[0], "hsver") == 0;

		req.op = RPC_OP_HANDSHAKE;
		req.handshake.version = ver ? (uint32_t)probe_num(w[1]) : 1;
		req.handshake.max_inflight = !ver && w[1] ? (uint32_t)probe_num(w[1]) : 64;
		req.handshake.max_io_size = !ver && w[2] ? (uint32_t)probe_num(w[2]) : 1u << 20;
		snprintf(req.handshake.name, sizeof(req.handshake.name), "mock_probe");
		probe_simple(&req, want, &rep);
		if (rep.status == RPC_STATUS_OK) {
			if (!rep.has_handshake)
				probe_die("HANDSHAKE reply without a grant");
			probe_cur->max_inflight = rep.handshake.max_inflight;
			probe_cur->max_io = rep.handshake.max_io_size;
			printf("%s: granted version=%u max_inflight=%u max_io_size=%u node=%s writes_durable=%d\n",
			       probe_step, rep.handshake.version, rep.handshake.max_inflight,
			       rep.handshake.max_io_size, rep.handshake.name,
			       rep.handshake.writes_durable);
		}
	} else if (strcmp(w[0], "open") == 0 || strcmp(w[0], "info") == 0 ||
		   strcmp(w[0], "unlock") == 0 || strcmp(w[0], "delete") == 0) {
		req.op = w[0][0] == 'o' ? RPC_OP_OPEN : w[0][0] == 'i' ? RPC_OP_INFO :
			 w[0][0] == 'd' ? RPC_OP_DELETE : RPC_OP_UNLOCK;
		snprintf(req.volume, sizeof(req.volume), "%s", w[1] ? w[1] : "");
		for (int i = 2; i < n; i++) {
			if (strcmp(w[i], "ro") == 0)
				req.read_only = true;
			else if (strcmp(w[i], "break") == 0)
				req.break_lock = true;
			else if (strncmp(w[i], "owner=", 6) == 0 || strncmp(w[i], "by=", 3) == 0)
				snprintf(req.owner, sizeof(req.owner), "%s", strchr(w[i], '=') + 1);
			else if (strcmp(w[i], "gen=last") == 0)
				req.lock_generation = probe_last_gen;
			else if (strncmp(w[i], "gen=", 4) == 0)
				req.lock_generation = probe_num(w[i] + 4);
			else
				probe_die("unknown word %s", w[i]);
		}
		probe_simple(&req, want, &rep);
		if (rep.status == RPC_STATUS_OK) {
			if (!rep.has_volume)
				probe_die("reply without VolumeInfo");
			printf("%s: volume=%s size=%llu block_size=%u read_only=%d max_discard=%u max_write_zeroes=%u",
			       probe_step, rep.volume.volume, (unsigned long long)rep.volume.size,
			       rep.volume.block_size, rep.volume.read_only,
			       rep.volume.max_discard_size, rep.volume.max_write_zeroes_size);
			if (rep.map)
				printf(" map_epoch=%llu map_nodes=%u", (unsigned long long)rep.map->epoch,
				       rep.map->n_nodes);
			printf(" lock_owner=%s lock_gen=%llu lock_since=%llu\n",
			       rep.volume.lock.owner[0] ? rep.volume.lock.owner : "-",
			       (unsigned long long)rep.volume.lock.generation,
			       (unsigned long long)rep.volume.lock.since);
			if (req.op != RPC_OP_INFO && req.op != RPC_OP_DELETE)
				probe_last_gen = rep.volume.lock.generation;
			if (req.op == RPC_OP_OPEN)
				probe_cur->vol_size = rep.volume.size;
			if (req.op == RPC_OP_OPEN && !rep.map)
				probe_die("OPEN reply without a cluster map");
		}
	} else if (strcmp(w[0], "create") == 0 || strcmp(w[0], "resize") == 0) {
		req.op = w[0][0] == 'c' ? RPC_OP_CREATE : RPC_OP_RESIZE;
		snprintf(req.volume, sizeof(req.volume), "%s", w[1]);
		req.create_size = probe_num(w[2]);
		req.create_block_size = w[3] ? (uint32_t)probe_num(w[3]) : 0;
		probe_simple(&req, want, &rep);
	} else if (strcmp(w[0], "ping") == 0) {
		req.op = RPC_OP_PING;
		probe_simple(&req, want, &rep);
	} else if (strcmp(w[0], "getmap") == 0) {
		req.op = RPC_OP_GET_MAP;
		probe_simple(&req, want, &rep);
		if (rep.status == RPC_STATUS_OK) {
			if (!rep.map)
				probe_die("GET_MAP reply without a map");
			printf("%s: map epoch=%llu chunk_size=%llu nodes=%u node0=%s\n", probe_step,
			       (unsigned long long)rep.map->epoch,
			       (unsigned long long)rep.map->chunk_size, rep.map->n_nodes,
			       rep.map->nodes[0]);
		}
	} else if (strcmp(w[0], "write") == 0 || strcmp(w[0], "read") == 0) {
		bool wr = w[0][0] == 'w';

		if (!w[3])
			probe_die("usage: %s OFF LEN SEED", w[0]);
		probe_rw(wr ? RPC_OP_WRITE : RPC_OP_READ, probe_num(w[1]), probe_num(w[2]),
			 (int64_t)probe_num(w[3]),
			 wr && w[4] && strcmp(w[4], "fua") == 0 ? RPC_FLAG_FUA : 0, want);
		return;
	} else if (strcmp(w[0], "readz") == 0) {
		probe_rw(RPC_OP_READ, probe_num(w[1]), probe_num(w[2]), -1, 0, want);
		return;
	} else if (strcmp(w[0], "rflags") == 0) {
		probe_rw(RPC_OP_READ, probe_num(w[2]), probe_num(w[3]), -1,
			 (uint32_t)probe_num(w[1]), want);
		return;
	} else if (strcmp(w[0], "flush") == 0) {
		req.op = RPC_OP_FLUSH;
		probe_simple(&req, want, &rep);
	} else if (strcmp(w[0], "discard") == 0 || strcmp(w[0], "wz") == 0) {
		req.op = w[0][0] == 'd' ? RPC_OP_DISCARD : RPC_OP_WRITE_ZEROES;
		req.offset = probe_num(w[1]);
		req.length = probe_num(w[2]);
		req.flags = w[3] && strcmp(w[3], "unmap") == 0 ? RPC_FLAG_UNMAP : 0;
		probe_simple(&req, want, &rep);
	} else if (strcmp(w[0], "pipeline") == 0) {
		probe_pipeline((uint32_t)probe_num(w[1]), probe_num(w[2]), probe_num(w[3]));
		return;
	} else if (strcmp(w[0], "send") == 0) {
		bool wr = strcmp(w[1], "write") == 0;
		uint64_t off = probe_num(w[2]), len = probe_num(w[3]);
		uint8_t *buf = malloc(len ? len : 1);

		req.op = wr ? RPC_OP_WRITE : RPC_OP_READ;
		req.id = probe_cur->next_id++;
		req.offset = off;
		req.length = len;
		probe_fill(buf, off, len, probe_num(w[4]));
		probe_send_request(probe_cur, &req, buf, wr ? (uint32_t)len : 0);
		free(buf);
		printf("%s: sent id %llu\n", probe_step, (unsigned long long)req.id);
		return;
	} else if (strcmp(w[0], "recv") == 0) {
		uint64_t k = probe_num(w[1]);

		for (uint64_t i = 0; i < k; i++) {
			uint8_t *data;
			uint32_t len;

			if (probe_recv_reply(probe_cur, &rep, &data, &len) < 0)
				probe_die("connection closed after %llu of %llu replies",
					  (unsigned long long)i, (unsigned long long)k);
			probe_check_status(&rep, want);
			free(data);
			nb_rpc_reply_clear(&rep);
		}
		return;
	} else if (strcmp(w[0], "bench") == 0) {
		if (!w[4])
			probe_die("usage: bench read|write SECONDS QD LEN");
		probe_bench(strcmp(w[1], "write") == 0, (double)probe_num(w[2]),
			    (uint32_t)probe_num(w[3]), probe_num(w[4]));
		return;
	} else if (strcmp(w[0], "trickle") == 0) {
		/* A WRITE frame sent in TLS records of 1 to 7 bytes, then read back. */
		uint64_t off = probe_num(w[1]), len = probe_num(w[2]), seed = probe_num(w[3]);
		uint8_t *frame = malloc(8192 + len), *rdata;
		uint32_t rlen;
		size_t pos = 0, total;
		int h;

		req.op = RPC_OP_WRITE;
		req.id = probe_cur->next_id++;
		req.offset = off;
		req.length = len;
		h = nb_rpc_request_encode(&req, (uint32_t)len, frame, 8192);
		if (h < 0)
			probe_die("cannot encode request");
		probe_fill(frame + h, off, len, seed);
		total = (size_t)h + len;
		while (pos < total) {
			size_t piece = 1 + pos % 7;

			if (piece > total - pos)
				piece = total - pos;
			probe_send(probe_cur, frame + pos, piece);
			pos += piece;
		}
		free(frame);
		if (probe_recv_reply(probe_cur, &rep, &rdata, &rlen) < 0 || rep.id != req.id)
			probe_die("no reply to the trickled write");
		probe_check_status(&rep, want);
		nb_rpc_reply_clear(&rep);
		probe_rw(RPC_OP_READ, off, len, (int64_t)seed, 0, RPC_STATUS_OK);
		return;
	} else if (strcmp(w[0], "tally") == 0) {
		uint64_t k = probe_num(w[1]), count[RPC_STATUS_MAX] = { 0 };

		for (uint64_t i = 0; i < k; i++) {
			uint8_t *data;
			uint32_t len;

			if (probe_recv_reply(probe_cur, &rep, &data, &len) < 0)
				probe_die("connection closed after %llu of %llu replies",
					  (unsigned long long)i, (unsigned long long)k);
			count[rep.status]++;
			free(data);
			nb_rpc_reply_clear(&rep);
		}
		printf("%s:", probe_step);
		for (int s = 0; s < RPC_STATUS_MAX; s++)
			if (count[s])
				printf(" %s=%llu", nb_rpc_status_name((enum rpc_status)s),
				       (unsigned long long)count[s]);
		printf("\n");
		return;
	} else if (strcmp(w[0], "badmagic") == 0) {
		static const uint8_t junk[RPC_FRAME_HDR_SIZE] = "GET / HTTP/1.0\r\n";

		probe_send(probe_cur, junk, sizeof(junk));
		probe_expect_closed(probe_cur);
		return;
	} else if (strcmp(w[0], "badlen") == 0) {
		uint8_t data[100] = { 0 };

		req.op = RPC_OP_WRITE;
		req.id = probe_cur->next_id++;
		req.length = 4096;
		probe_send_request(probe_cur, &req, data, sizeof(data));
		probe_expect_closed(probe_cur);
		return;
	} else if (strcmp(w[0], "bighdr") == 0 || strcmp(w[0], "junkhdr") == 0) {
		bool big = w[0][1] == 'i';
		uint32_t hlen = big ? 8192 : 10;
		uint8_t *buf = malloc(RPC_FRAME_HDR_SIZE + hlen);

		nb_rpc_frame_hdr_encode(buf, RPC_KIND_REQUEST, hlen, 0);
		memset(buf + RPC_FRAME_HDR_SIZE, 0xff, hlen);
		probe_send(probe_cur, buf, RPC_FRAME_HDR_SIZE + hlen);
		free(buf);
		probe_expect_closed(probe_cur);
		return;
	} else if (strcmp(w[0], "bigread") == 0) {
		req.op = RPC_OP_READ;
		req.id = probe_cur->next_id++;
		req.length = (uint64_t)probe_cur->max_io + 512;
		probe_send_request(probe_cur, &req, NULL, 0);
		probe_expect_closed(probe_cur);
		return;
	} else if (strcmp(w[0], "closed") == 0) {
		probe_expect_closed(probe_cur);
		return;
	} else {
		probe_die("unknown step");
	}
	nb_rpc_reply_clear(&rep);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'e' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *connect_to = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	char host[256], port[8];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': connect_to = optarg; break;
		case 'a': ca = optarg; break;
		case 'e': cert = optarg; break;
		case 'k': key = optarg; break;
		default:
			fprintf(stderr, "usage: mock_probe --connect HOST:PORT --ca F --cert F --key F STEP...\n");
			return 2;
		}
	}
	if (!connect_to || !ca || !cert || !key) {
		fprintf(stderr, "mock_probe: --connect, --ca, --cert and --key are required\n");
		return 2;
	}
	if (nb_split_host_port(connect_to, host, sizeof(host), port,
			       sizeof(port)) < 0)
		probe_die("--connect needs HOST:PORT");
	probe_host = host;
	probe_port = port;
	setvbuf(stdout, NULL, _IOLBF, 0);

	probe_ctx = SSL_CTX_new(TLS_client_method());
	if (!probe_ctx || !SSL_CTX_set_min_proto_version(probe_ctx, TLS1_3_VERSION) ||
	    SSL_CTX_load_verify_locations(probe_ctx, ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(probe_ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(probe_ctx, key, SSL_FILETYPE_PEM) != 1)
		probe_die("cannot set up TLS with --ca %s --cert %s --key %s", ca, cert, key);
	SSL_CTX_set_verify(probe_ctx, SSL_VERIFY_PEER, NULL);
	for (int i = 0; i < PROBE_CONNS; i++)
		probe_conns[i].fd = -1;
	probe_cur = &probe_conns[0];

	for (int i = optind; i < argc; i++) {
		char *copy = strdup(argv[i]);

		probe_step = argv[i];
		probe_run_step(copy);
		free(copy);
	}
	for (int i = 0; i < PROBE_CONNS; i++) {
		if (probe_conns[i].ssl) {
			SSL_shutdown(probe_conns[i].ssl);
			SSL_free(probe_conns[i].ssl);
			close(probe_conns[i].fd);
		}
	}
	SSL_CTX_free(probe_ctx);
	return 0;
}
