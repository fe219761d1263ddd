/* SPDX-License-Identifier: MIT */
/*
 * netblk-csi: a CSI (Container Storage Interface v1) driver for
 * vduse-netblk volumes. One process serves Identity plus the Controller
 * service (over the cluster's admin requests, admin.h), the Node service
 * (over the agent's spec files), or both, on one unix socket.
 *
 * Every call runs in its own thread (csi_server.c); handlers get the
 * decoded request and fill a response whose parts they allocate from the
 * call's arena (nb_csi_alloc / nb_csi_strdup): everything is freed once
 * the response is sent. A handler returns a gRPC status code (0 = OK) and,
 * for errors, a message in the call's msg buffer.
 */
#ifndef NETBLK_CSI_H
#define NETBLK_CSI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define CSI_MAX_NODES 64
#define CSI_MAX_PUBS 1024

/* gRPC status codes (the subset we answer with; grpc/status.h values) */
enum csi_code {
	CSI_OK = 0,
	CSI_INVALID_ARGUMENT = 3,
	CSI_NOT_FOUND = 5,
	CSI_ALREADY_EXISTS = 6,
	CSI_RESOURCE_EXHAUSTED = 8,
	CSI_FAILED_PRECONDITION = 9,
	CSI_ABORTED = 10,
	CSI_OUT_OF_RANGE = 11,
	CSI_UNIMPLEMENTED = 12,
	CSI_INTERNAL = 13,
	CSI_UNAVAILABLE = 14,
};

/* A volume published by this controller (kept in memory; see docs/csi.md) */
struct csi_pub {
	char volume[1200];              /* its one id (nb_csi_volume_id) */
	char node[128];
	bool readonly;
};

struct csi_ctx {
	const char *driver_name;
	bool controller, node;          /* services served */
	const char *endpoint;           /* unix socket path */
	const char *node_id;
	/* cluster and TLS, as for netblk-cli */
	const char *nodes[CSI_MAX_NODES];
	size_t n_nodes;
	const char *cluster_text;       /* --cluster as given (for specs) */
	const char *tls_ca, *tls_cert, *tls_key, *server_name;
	double connect_timeout;
	/* node service */
	const char *spec_dir;           /* the agent's spec directory */
	const char *run_dir;            /* the agent's run directory */
	const char *kubelet_dir;        /* paths must lie under it */
	double attach_timeout;

	pthread_mutex_t lock;           /* guards busy[] and pubs[] */
	char *busy[256];                /* volumes with a call in progress */
	struct csi_pub pubs[CSI_MAX_PUBS];
	size_t n_pubs;
};

/* One call in progress: its arena and its error message. */
struct csi_call {
	struct csi_ctx *ctx;
	void **blocks;
	size_t n_blocks, cap_blocks;
	char msg[1024];
};

typedef int (csi_handler_fn)(struct csi_call *c, const ProtobufCMessage *req,
			     ProtobufCMessage **resp);

struct csi_method {
	const char *path;               /* "/csi.v1.Identity/Probe" */
	const ProtobufCMessageDescriptor *request;
	csi_handler_fn *handler;
};

/* zeroed memory that lives until the call ends; aborts on ENOMEM */
void *nb_csi_alloc(struct csi_call *c, size_t size);
char *nb_csi_strdup(struct csi_call *c, const char *s);
/* set c->msg (printf-style) and return code */
int nb_csi_fail(struct csi_call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Mark a volume busy for the call: CSI_OK, or with c->msg set (naming the
 * method what) CSI_ABORTED when another call has it, CSI_RESOURCE_EXHAUSTED
 * when no slot (or no memory) is left for it.
 */
int nb_csi_claim(struct csi_call *c, const char *volume, const char *what);
void nb_csi_release(struct csi_ctx *ctx, const char *volume);

/* Serve methods on ctx->endpoint until SIGTERM/SIGINT. Returns 0 or -errno. */
int nb_csi_serve(struct csi_ctx *ctx, const struct csi_method *const *tables,
		 size_t n_tables);

extern const struct csi_method nb_csi_identity_methods[];
extern const struct csi_method nb_csi_controller_methods[];
extern const struct csi_method nb_csi_node_methods[];

/* csi_util.c: shared checks */
/* NULL when cap is acceptable, else why not (static text) */
const char *nb_csi_cap_problem(const void *cap /* Csi__V1__VolumeCapability */);
/* access mode of cap allows no writer */
bool nb_csi_cap_readonly(const void *cap);
/* run argv, stdout+stderr into out (may be NULL); exit status or -errno */
int nb_csi_run(char *const argv[], char *out, size_t outlen);
/* find key in a protobuf-c map (repeated entries with key/value) */
const char *nb_csi_map_get(size_t n, void *const *entries, const char *key);

#endif
