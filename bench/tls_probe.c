/* SPDX-License-Identifier: MIT */
/*
 * netblk-tls-probe: does kernel TLS pay on this machine?
 *
 * Streams data over a loopback TCP connection, from a sender thread to
 * the main thread, in TLS-sized records, three ways:
 *   plain  no encryption (the cost of TCP alone);
 *   user   the sender seals each record with OpenSSL's EVP AEAD and the
 *          receiver opens it (what an OpenSSL connection does);
 *   kernel the kernel's TLS 1.3 layer (TCP_ULP "tls", TLS_TX on the
 *          sender, TLS_RX on the receiver) seals and opens.
 * for ChaCha20-Poly1305 and AES-128-GCM, and prints the bytes moved per
 * CPU second of the process (both ends: they share this machine's cores,
 * as the daemon and the storage node do in the benchmark VM) and per
 * wall second.
 * The keys are fixed and the data zeros: this measures speed, it does
 * not protect anything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "version.h"
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define PROBE_TAG	16u
#define PROBE_MAX_WRITE	(1u << 20)

enum probe_way { PROBE_PLAIN, PROBE_USER, PROBE_KERNEL, PROBE_WAY_MAX };
enum probe_cipher { PROBE_CHACHA, PROBE_AES128, PROBE_CIPHER_MAX };

static const char *const probe_way_name[PROBE_WAY_MAX] = {
	"plain TCP", "user-space TLS records (OpenSSL EVP)",
	"kernel TLS (TLS_TX + TLS_RX)",
};
static const char *const probe_cipher_name[PROBE_CIPHER_MAX] = {
	"ChaCha20-Poly1305", "AES-128-GCM",
};

struct probe_run {
	enum probe_way way;
	enum probe_cipher cipher;
	size_t write_len;	/* plaintext per send() (user: its records) */
	size_t record_len;	/* plaintext per record (user) */
	uint64_t total;		/* plaintext bytes to move */
	int fd;			/* this end's socket */
	int err;		/* sender: 0 or -errno */
	char why[160];		/* sender's error text */
};

static double probe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double probe_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static const EVP_CIPHER *probe_evp(enum probe_cipher c)
{
	return c == PROBE_CHACHA ? EVP_chacha20_poly1305() : EVP_aes_128_gcm();
}

/* Turn on the kernel's TLS 1.3 for one direction (TLS_TX or TLS_RX). */
static int probe_ktls(int fd, enum probe_cipher c, int dir, char *why,
		      size_t len)
{
	union {
		struct tls_crypto_info info;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
		struct tls12_crypto_info_aes_gcm_128 aes;
	} ci;
	socklen_t ci_len = c == PROBE_CHACHA ? sizeof(ci.chacha) :
			   sizeof(ci.aes);
	int err;

	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
		err = errno;
		snprintf(why, len, "TCP_ULP \"tls\": %s (no tls module?)",
			 strerror(err));
		return -err;
	}
	/* fixed key, salt and IV; record sequence numbers from 0 */
	memset(&ci, 0x5a, sizeof(ci));
	ci.info.version = TLS_1_3_VERSION;
	if (c == PROBE_CHACHA) {
		ci.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memset(ci.chacha.rec_seq, 0, sizeof(ci.chacha.rec_seq));
	} else {
		ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memset(ci.aes.rec_seq, 0, sizeof(ci.aes.rec_seq));
	}
	if (setsockopt(fd, SOL_TLS, dir, &ci, ci_len) < 0) {
		err = errno;
		snprintf(why, len, "SOL_TLS %s %s: %s",
			 dir == TLS_TX ? "TLS_TX" : "TLS_RX",
			 probe_cipher_name[c], strerror(err));
		return -err;
	}
	return 0;
}

static int probe_send_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int probe_recv_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Seal (enc) or open (!enc) one record in place; 0 or -EIO. */
static int probe_aead(EVP_CIPHER_CTX *ctx, bool enc, uint64_t seq,
		      uint8_t *buf, size_t len)
{
	uint8_t iv[12] = { 0 };
	uint8_t *tag = buf + len;
	int outl;

	memcpy(iv + 4, &seq, sizeof(seq));
	if (enc) {
		if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
		    EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
		    EVP_EncryptFinal_ex(ctx, buf + outl, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, PROBE_TAG,
					tag) != 1)
			return -EIO;
		return 0;
	}
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_DecryptUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, PROBE_TAG, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, buf + outl, &outl) != 1)
		return -EIO;
	return 0;
}

/* Records per write in the user-space way, and the bytes they take. */
static size_t probe_records(const struct probe_run *r)
{
	return r->write_len / r->record_len;
}

static size_t probe_wire_len(const struct probe_run *r)
{
	if (r->way != PROBE_USER)
		return r->write_len;
	return probe_records(r) * (r->record_len + PROBE_TAG);
}

/* Seal or open every record of one write's buffer; 0 or -EIO. */
static int probe_aead_all(const struct probe_run *r, EVP_CIPHER_CTX *ctx,
			  bool enc, uint64_t *seq, uint8_t *buf)
{
	size_t i, step = r->record_len + PROBE_TAG;

	for (i = 0; i < probe_records(r); i++)
		if (probe_aead(ctx, enc, (*seq)++, buf + i * step,
			       r->record_len))
			return -EIO;
	return 0;
}

static EVP_CIPHER_CTX *probe_ctx_new(enum probe_cipher c, bool enc)
{
	static const uint8_t key[32] = { 0x6e, 0x62, 0x6c, 0x6b };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ok;

	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	ok = enc ? EVP_EncryptInit_ex(ctx, probe_evp(c), NULL, key, NULL) :
		   EVP_DecryptInit_ex(ctx, probe_evp(c), NULL, key, NULL);
	if (ok != 1) {
		EVP_CIPHER_CTX_free(ctx);
		errno = EIO;
		return NULL;
	}
	return ctx;
}

static void *probe_sender(void *arg)
{
	struct probe_run *r = arg;
	size_t wire = probe_wire_len(r);
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *buf = calloc(1, wire);
	uint64_t sent = 0, seq = 0;
	int ret = 0;

	if (!buf) {
		r->err = -ENOMEM;
		snprintf(r->why, sizeof(r->why), "out of memory");
		goto out_free_buf;	/* the receiver must still see the end */
	}
	if (r->way == PROBE_USER) {
		ctx = probe_ctx_new(r->cipher, true);
		if (!ctx) {
			r->err = -errno;
			snprintf(r->why, sizeof(r->why), "cannot set up %s",
				 probe_cipher_name[r->cipher]);
			goto out_free_buf;
		}
	}
	while (sent < r->total) {
		if (ctx)	/* sealing in place left ciphertext there */
			memset(buf, 0, wire);
		if (ctx && probe_aead_all(r, ctx, true, &seq, buf)) {
			ret = -EIO;
			snprintf(r->why, sizeof(r->why), "sealing failed");
			break;
		}
		ret = probe_send_all(r->fd, buf, wire);
		if (ret) {
			snprintf(r->why, sizeof(r->why), "send: %s",
				 strerror(-ret));
			break;
		}
		sent += r->write_len;
	}
	r->err = ret;
	EVP_CIPHER_CTX_free(ctx);
out_free_buf:
	free(buf);
	/* the receiver sees the end at once rather than waiting */
	shutdown(r->fd, SHUT_WR);
	return NULL;
}

/* A connected loopback pair: *tx the client end, *rx the accepted one. */
static int probe_pair(int *tx, int *rx, char *why, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int ls, c = -1, s = -1, one = 1, ret;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		goto fail;
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
		goto fail_close_ls;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail_close_ls;
	s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		goto fail_close_ls;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(ls);
	*tx = c;
	*rx = s;
	return 0;

fail_close_ls:
	ret = -errno;
	if (c >= 0)
		close(c);
	close(ls);
	snprintf(why, len, "loopback TCP connection: %s", strerror(-ret));
	return ret;
fail:
	ret = -errno;
	snprintf(why, len, "socket: %s", strerror(-ret));
	return ret;
}

/* The sender sends zeros: anything else arrived damaged. */
static bool probe_all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Receive r->total bytes as the sender sends them; 0 or -errno. */
static int probe_receive(struct probe_run *r, int fd, char *why, size_t len)
{
	size_t wire = probe_wire_len(r);
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *buf = malloc(wire);
	uint64_t got = 0, seq = 0;
	int ret = 0;

	if (!buf) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	if (r->way == PROBE_USER) {
		ctx = probe_ctx_new(r->cipher, false);
		if (!ctx) {
			ret = -errno;
			snprintf(why, len, "cannot set up %s",
				 probe_cipher_name[r->cipher]);
			goto out_free_buf;
		}
	}
	while (got < r->total) {
		if (ctx) {
			ret = probe_recv_all(fd, buf, wire);
			if (!ret && probe_aead_all(r, ctx, false, &seq, buf)) {
				snprintf(why, len, "a record failed to open");
				ret = -EBADMSG;
				break;
			}
			for (size_t i = 0; !ret && i < probe_records(r); i++)
				if (!probe_all_zero(buf + i * (r->record_len + PROBE_TAG),
						    r->record_len))
					ret = -EBADMSG;
			if (!ret)
				got += r->write_len;
		} else {
			ssize_t n = recv(fd, buf, wire, 0);

			if (n < 0 && errno == EINTR)
				continue;
			ret = n < 0 ? -errno : n == 0 ? -ECONNRESET : 0;
			if (!ret && !probe_all_zero(buf, (size_t)n))
				ret = -EBADMSG;
			if (!ret)
				got += (uint64_t)n;
		}
		if (ret) {
			snprintf(why, len, "receive after %llu of %llu bytes: %s",
				 (unsigned long long)got,
				 (unsigned long long)r->total,
				 ret == -EBADMSG ? "the data arrived changed" :
				 strerror(-ret));
			break;
		}
	}
	EVP_CIPHER_CTX_free(ctx);
out_free_buf:
	free(buf);
	return ret;
}

/* One way and cipher: print a line; 0, or -errno with why filled. */
static int probe_one(struct probe_run *r, char *why, size_t len)
{
	double t0, c0, wall, cpu;
	pthread_t th;
	int tx = -1, rx = -1, ret;

	ret = probe_pair(&tx, &rx, why, len);
	if (ret)
		return ret;
	if (r->way == PROBE_KERNEL) {
		ret = probe_ktls(tx, r->cipher, TLS_TX, why, len);
		if (!ret)
			ret = probe_ktls(rx, r->cipher, TLS_RX, why, len);
		if (ret)
			goto out_close;
	}
	r->fd = tx;
	r->err = 0;
	c0 = probe_cpu();
	t0 = probe_now();
	ret = -pthread_create(&th, NULL, probe_sender, r);
	if (ret) {
		snprintf(why, len, "pthread_create: %s", strerror(-ret));
		goto out_close;
	}
	ret = probe_receive(r, rx, why, len);
	if (ret)
		shutdown(rx, SHUT_RDWR);	/* unblock the sender */
	pthread_join(th, NULL);
	wall = probe_now() - t0;
	cpu = probe_cpu() - c0;
	/* a sender that failed first is why the receiver saw the end */
	if (r->err) {
		ret = r->err;
		snprintf(why, len, "%s", r->why);
	}
	if (!ret)
		printf("  %-38s %-18s %8.1f MB/s per CPU second %8.1f MB/s\n",
		       probe_way_name[r->way],
		       r->way == PROBE_PLAIN ? "" : probe_cipher_name[r->cipher],
		       (double)r->total / 1e6 / (cpu > 0 ? cpu : 1e-9),
		       (double)r->total / 1e6 / (wall > 0 ? wall : 1e-9));
out_close:
	close(tx);
	close(rx);
	return ret;
}

static void probe_usage(FILE *f)
{
	fprintf(f,
"usage: netblk-tls-probe [--size BYTES] [--mib N]\n"
"       netblk-tls-probe --version\n"
"Moves N MiB (default 32) over loopback TCP in BYTES-sized writes (default\n"
"131072, a multiple of 16 KiB above it; records of 16 KiB, a write's\n"
"records sent together) with no encryption, with OpenSSL sealing and\n"
"opening records in user space, and with the kernel's TLS 1.3 (the tls\n"
"module), for ChaCha20-Poly1305 and AES-128-GCM; prints MB per CPU second\n"
"of both ends together, and per wall second. Exit 0 also when kernel TLS\n"
"is missing (it says so); 1 when a measurement fails; 2 on a bad option.\n");
}

static int probe_parse_num(const char *opt, const char *arg,
			   unsigned long long min, unsigned long long max,
			   unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		fprintf(stderr, "netblk-tls-probe: %s '%s': want a whole "
			"number from %llu to %llu\n", opt, arg, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "mib", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long size = 131072, mib = 32;
	struct probe_run r = { 0 };
	char why[256];
	int c, ret, failed = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (probe_parse_num("--size", optarg, 4096,
					    PROBE_MAX_WRITE, &size))
				return 2;
			break;
		case 'm':
			if (probe_parse_num("--mib", optarg, 1, 4096, &mib))
				return 2;
			break;
		case 'h':
			probe_usage(stdout);
			return 0;
		case 'V':
			nb_version_print(stdout, "netblk-tls-probe");
			return 0;
		default:
			probe_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netblk-tls-probe: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	r.record_len = size < 16384 ? size : 16384;
	r.write_len = size - size % r.record_len;
	r.total = mib << 20;
	r.total -= r.total % r.write_len;
	printf("netblk-tls-probe: %llu MiB over loopback TCP, %llu-byte writes, "
	       "records of %zu bytes\n", mib, (unsigned long long)r.write_len,
	       r.record_len);
	for (r.way = 0; r.way < PROBE_WAY_MAX; r.way++) {
		for (r.cipher = 0; r.cipher < PROBE_CIPHER_MAX; r.cipher++) {
			if (r.way == PROBE_PLAIN && r.cipher > 0)
				break;
			ret = probe_one(&r, why, sizeof(why));
			if (ret && r.way == PROBE_KERNEL &&
			    (ret == -ENOENT || ret == -ENOPROTOOPT ||
			     ret == -EOPNOTSUPP)) {
				printf("  %-38s %-18s not available here: %s\n",
				       probe_way_name[r.way],
				       probe_cipher_name[r.cipher], why);
			} else if (ret) {
				fprintf(stderr, "netblk-tls-probe: %s%s%s: %s\n",
					probe_way_name[r.way],
					r.way == PROBE_PLAIN ? "" : " ",
					r.way == PROBE_PLAIN ? "" :
					probe_cipher_name[r.cipher], why);
				failed = 1;
			}
		}
	}
	ERR_clear_error();
	return failed;
}
