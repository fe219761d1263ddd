/* SPDX-License-Identifier: MIT */
/*
 * The CSI Node service over the vduse-netblk agent: NodeStageVolume
 * writes a spec file for the volume into the agent's spec directory and
 * waits for its status file to say attached (the device is in the status
 * file), makes an ext4 file system when a mount volume's disk has none
 * and mounts it at the staging path; NodePublishVolume bind-mounts that
 * (or, for block volumes, the device node) at the pod's target path;
 * NodeUnstageVolume unmounts and deletes the spec, which detaches.
 *
 * The spec file of volume ID is SPEC_DIR/csi-HASH.spec, HASH a 64-bit
 * FNV-1a of the id, and its device is named the same; it takes the
 * writer lock as csi@NODE_ID, the owner the controller checks. The id
 * hashed (and claimed) is the volume's one id (nb_csi_volume_id), so that
 * "NAME" and "HOST:PORT/NAME" of the driver's own cluster are one volume.
 *
 * What the status file says is checked against the host: the device it
 * names must be the disk of the vDPA device csi-HASH in sysfs (a status
 * file outlives a reboot, and /dev/vdX names are handed out again), and a
 * status written before the host booted is stale.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "csi.h"
#include "csi.pb-c.h"
#include "csi_host.h"
#include "csi_volume.h"

static void csi_devname(const char *volume_id, char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)volume_id; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, len, "csi-%016llx", (unsigned long long)h);
}

/* absolute, inside the kubelet directory, no "." or ".." parts */
static bool csi_path_ok(const struct csi_ctx *ctx, const char *path)
{
	size_t k = strlen(ctx->kubelet_dir);
	const char *p;

	if (path[0] != '/' || strlen(path) >= PATH_MAX - 64)
		return false;
	while (k > 1 && ctx->kubelet_dir[k - 1] == '/')
		k--;
	if (strncmp(path, ctx->kubelet_dir, k) != 0 || path[k] != '/' || !path[k + 1])
		return false;
	for (p = path; (p = strstr(p, "/.")); p++)
		if (p[2] == '\0' || p[2] == '/' || (p[2] == '.' && (p[3] == '\0' || p[3] == '/')))
			return false;
	/* and no symbolic link leads out of it, nor is the path one */
	return nb_csi_path_inside(path, ctx->kubelet_dir);
}

/* The one id of volume_id (see nb_csi_volume_id); the text as is when it
 * does not parse (no such id was ever staged). */
static void csi_node_key(const struct csi_ctx *ctx, const char *volume_id, char *buf,
			 size_t len)
{
	struct csi_volume v;
	char err[256];

	if (nb_csi_volume_parse(volume_id, ctx->cluster_text, &v, err, sizeof(err)) == 0)
		nb_csi_volume_id(&v, ctx->cluster_text, buf, len);
	else
		snprintf(buf, len, "%s", volume_id);
}

/* The attached device of devname (from its status file), or an error. */
static int csi_attached_device(struct csi_call *c, const char *devname, time_t since,
			       char *dev, size_t devlen)
{
	char path[PATH_MAX], text[4096], state[32], upd[32], msg[600];
	double waited = 0;

	snprintf(path, sizeof(path), "%s/%s.status", c->ctx->spec_dir, devname);
	for (;;) {
		if (nb_csi_read_file(path, text, sizeof(text)) == 0) {
			nb_csi_status_get(text, "state", state, sizeof(state));
			nb_csi_status_get(text, "updated", upd, sizeof(upd));
			nb_csi_status_get(text, "message", msg, sizeof(msg));
			if (atoll(upd) >= (long long)since) {
				if (strcmp(state, "attached") == 0) {
					/* a stale file may name another volume's disk */
					nb_csi_status_get(text, "device", dev, devlen);
					if (nb_csi_dev_of_vdpa(dev, devname))
						return CSI_OK;
				} else if (strcmp(state, "error") == 0) {
					return nb_csi_fail(c, CSI_INTERNAL,
							   "the agent could not attach %s: %s",
							   devname, msg);
				}
			}
		}
		if (waited >= c->ctx->attach_timeout)
			return nb_csi_fail(c, CSI_UNAVAILABLE,
					   "%s not attached after %.0f s (is the agent running on "
					   "%s? status: %s)", devname, waited, c->ctx->spec_dir,
					   text[0] ? msg : "none");
		nb_csi_sleep_ms(200);
		waited += 0.2;
		text[0] = '\0';
	}
}

static const char *csi_ctx_get(size_t n, void *const *e, const char *k)
{
	return nb_csi_map_get(n, e, k);
}

/* ---- NodeStageVolume ---- */

/*
 * What is on the disk dev of a mount volume: CSI_OK with *what 0 (an ext4
 * file system to mount) or 2 (nothing at all: blkid finds no signature and
 * the first and last MiB read back as zeros, so mkfs may run), else the
 * error. Anything unreadable is INTERNAL, never "empty".
 */
static int csi_stage_fs_check(struct csi_call *c, const char *id, const char *dev, bool ro,
			      int *what)
{
	char *blkid[] = { "blkid", "-p", "-o", "export", (char *)dev, NULL };
	char out[1024], type[64], pttype[64];
	int rc;

	rc = nb_csi_run(blkid, out, sizeof(out));
	if (rc != 0 && rc != 2)
		return nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: blkid -p %s (exit %d): %s",
				   id, dev, rc, out);
	nb_csi_status_get(rc == 0 ? out : "", "TYPE", type, sizeof(type));
	nb_csi_status_get(rc == 0 ? out : "", "PTTYPE", pttype, sizeof(pttype));
	if (pttype[0])
		return nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "NodeStageVolume %s: %s holds a partition table (%s); not "
				   "touching it", id, dev, pttype);
	if (strcmp(type, "ext4") == 0) {
		*what = 0;
		return CSI_OK;
	}
	if (type[0] || rc == 0)
		return nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "NodeStageVolume %s: the disk holds %s, not ext4; not touching it",
				   id, type[0] ? type : out);
	rc = nb_csi_dev_blank(dev);
	if (rc < 0)
		return nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: reading %s: %s", id, dev,
				   strerror(-rc));
	if (rc == 0)
		return nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "NodeStageVolume %s: %s holds data but no file system blkid "
				   "knows; not formatting it", id, dev);
	if (ro)
		return nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "NodeStageVolume %s: the read-only disk %s has no file system",
				   id, dev);
	*what = 2;
	return CSI_OK;
}

static int csi_node_stage(struct csi_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
	const Csi__V1__NodeStageVolumeRequest *req = (const void *)m;
	Csi__V1__NodeStageVolumeResponse *r;
	const Csi__V1__VolumeCapability *cap = req->volume_capability;
	struct csi_ctx *ctx = c->ctx;
	struct csi_volume v;
	char devname[32], spec_path[PATH_MAX], spec[4096], old[4096], dev[PATH_MAX];
	char err[512], out[1024], key[1200];
	const char *why, *queues, *ro_text;
	bool ro, mount;
	time_t since;
	dev_t mdev;
	bool mro;
	struct stat st;
	int code = CSI_OK, rc = 0;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeStageVolume: no volume_id");
	if (!req->staging_target_path || !req->staging_target_path[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeStageVolume %s: no staging_target_path",
				   req->volume_id);
	if (!csi_path_ok(ctx, req->staging_target_path))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodeStageVolume %s: staging path %s is not inside %s",
				   req->volume_id, req->staging_target_path, ctx->kubelet_dir);
	why = nb_csi_cap_problem(cap);
	if (why)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeStageVolume %s: %s", req->volume_id, why);
	if (nb_csi_volume_parse(req->volume_id, ctx->cluster_text, &v, err, sizeof(err)) < 0)
		return nb_csi_fail(c, CSI_NOT_FOUND, "NodeStageVolume: %s", err);
	mount = cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
	ro_text = csi_ctx_get(req->n_publish_context, (void *const *)req->publish_context, "readOnly");
	ro = nb_csi_cap_readonly(cap) || (ro_text && strcmp(ro_text, "true") == 0);
	ro_text = csi_ctx_get(req->n_volume_context, (void *const *)req->volume_context, "readOnly");
	if (ro_text && strcmp(ro_text, "true") == 0)
		ro = true;
	queues = csi_ctx_get(req->n_volume_context, (void *const *)req->volume_context, "queues");
	if (queues && (strspn(queues, "0123456789") != strlen(queues) || !queues[0] ||
		       atoi(queues) < 1 || atoi(queues) > 64))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeStageVolume %s: volume context "
				   "queues=%s is not 1 to 64", req->volume_id, queues);
	nb_csi_volume_id(&v, ctx->cluster_text, key, sizeof(key));
	code = nb_csi_claim(c, key, "NodeStageVolume");
	if (code)
		return code;

	csi_devname(key, devname, sizeof(devname));
	snprintf(spec_path, sizeof(spec_path), "%s/%s.spec", ctx->spec_dir, devname);
	snprintf(spec, sizeof(spec),
		 "# written by netblk-csi for the CSI volume %s; NodeUnstageVolume removes it\n"
		 "cluster=%s\nvolume=%s\nname=%s\nlock_owner=csi@%s\nread_only=%s\n%s%s%s%s%s%s",
		 key, v.cluster, v.name, devname, ctx->node_id, ro ? "true" : "false",
		 queues ? "queues=" : "", queues ? queues : "", queues ? "\n" : "",
		 ctx->server_name ? "tls_name=" : "", ctx->server_name ? ctx->server_name : "",
		 ctx->server_name ? "\n" : "");
	since = time(NULL);
	if (nb_csi_read_file(spec_path, old, sizeof(old)) == 0) {
		if (strcmp(old, spec) != 0) {
			code = nb_csi_fail(c, CSI_ALREADY_EXISTS,
					   "NodeStageVolume %s: already staged here with other "
					   "settings (%s)", req->volume_id, spec_path);
			goto out;
		}
		/* staged before: the agent's status of this boot counts */
		since = (time_t)nb_csi_boot_time();
	} else {
		rc = nb_csi_mkdirs(ctx->spec_dir, 0755);
		if (rc == 0)
			rc = nb_csi_write_file(spec_path, spec);
		if (rc < 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: cannot write %s: %s",
					   req->volume_id, spec_path, strerror(-rc));
			goto out;
		}
	}
	code = csi_attached_device(c, devname, since, dev, sizeof(dev));
	if (code)
		goto out;
	if (!mount)
		goto done;

	/* a mount volume: an ext4 file system mounted at the staging path */
	if (stat(dev, &st) < 0) {
		code = nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: %s: %s", req->volume_id, dev,
				   strerror(errno));
		goto out;
	}
	if (nb_csi_mounted(req->staging_target_path, &mdev, &mro)) {
		if (mdev != st.st_rdev || mro != ro) {
			code = nb_csi_fail(c, CSI_ALREADY_EXISTS,
					   "NodeStageVolume %s: %s is already a mount with other "
					   "settings", req->volume_id, req->staging_target_path);
			goto out;
		}
		goto done;
	}
	code = csi_stage_fs_check(c, req->volume_id, dev, ro, &rc);
	if (code)
		goto out;
	if (rc == 2) {
		char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-L", "netblk", dev, NULL };

		rc = nb_csi_run(mkfs, out, sizeof(out));
		if (rc != 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: mkfs.ext4 %s: %s",
					   req->volume_id, dev, out);
			goto out;
		}
	}
	rc = nb_csi_mkdirs(req->staging_target_path, 0750);
	if (rc == 0 && !csi_path_ok(ctx, req->staging_target_path))
		rc = -ELOOP;	/* a link appeared meanwhile */
	if (rc < 0) {
		code = nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: mkdir %s: %s", req->volume_id,
				   req->staging_target_path, strerror(-rc));
		goto out;
	}
	{
		char opts[1024] = "";
		size_t i;
		char *argv[] = { "mount", "-t", "ext4", "-o", opts, dev,
				 req->staging_target_path, NULL };

		snprintf(opts, sizeof(opts), "%s", ro ? "ro" : "rw");
		for (i = 0; i < cap->mount->n_mount_flags; i++) {
			const char *f = cap->mount->mount_flags[i];

			if (strchr(f, ',') || strlen(opts) + strlen(f) + 2 > sizeof(opts)) {
				code = nb_csi_fail(c, CSI_INVALID_ARGUMENT,
						   "NodeStageVolume %s: bad mount flag '%s'",
						   req->volume_id, f);
				goto out;
			}
			strcat(opts, ",");
			strcat(opts, f);
		}
		rc = nb_csi_run(argv, out, sizeof(out));
		if (rc != 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeStageVolume %s: mount %s on %s: %s",
					   req->volume_id, dev, req->staging_target_path, out);
			goto out;
		}
	}
done:
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__node_stage_volume_response__init(r);
	*resp = &r->base;
out:
	nb_csi_release(ctx, key);
	return code;
}

/* ---- NodeUnstageVolume ---- */

static int csi_node_unstage(struct csi_call *c, const ProtobufCMessage *m,
			    ProtobufCMessage **resp)
{
	const Csi__V1__NodeUnstageVolumeRequest *req = (const void *)m;
	Csi__V1__NodeUnstageVolumeResponse *r;
	struct csi_ctx *ctx = c->ctx;
	char key[1200];
	char devname[32], spec_path[PATH_MAX], status_path[PATH_MAX], text[4096], dev[PATH_MAX];
	char err[600];
	int code = CSI_OK, i;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeUnstageVolume: no volume_id");
	if (!req->staging_target_path || !req->staging_target_path[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodeUnstageVolume %s: no staging_target_path", req->volume_id);
	if (!csi_path_ok(ctx, req->staging_target_path))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodeUnstageVolume %s: staging path %s is not inside %s",
				   req->volume_id, req->staging_target_path, ctx->kubelet_dir);
	csi_node_key(ctx, req->volume_id, key, sizeof(key));
	code = nb_csi_claim(c, key, "NodeUnstageVolume");
	if (code)
		return code;
	while (nb_csi_mounted(req->staging_target_path, NULL, NULL)) {
		if (umount2(req->staging_target_path, UMOUNT_NOFOLLOW) < 0) {
			code = nb_csi_fail(c, errno == EBUSY ? CSI_FAILED_PRECONDITION : CSI_INTERNAL,
					   "NodeUnstageVolume %s: unmount %s: %s%s", req->volume_id,
					   req->staging_target_path, strerror(errno),
					   errno == EBUSY ? " (still published?)" : "");
			goto out;
		}
	}
	csi_devname(key, devname, sizeof(devname));
	snprintf(spec_path, sizeof(spec_path), "%s/%s.spec", ctx->spec_dir, devname);
	snprintf(status_path, sizeof(status_path), "%s/%s.status", ctx->spec_dir, devname);
	/*
	 * Loop devices of read-only block publications that an unpublish
	 * left behind (they would hold the disk): every publication is gone
	 * by now, so each loop device over the disk is one of ours.
	 */
	if (nb_csi_read_file(status_path, text, sizeof(text)) == 0 &&
	    nb_csi_status_get(text, "device", dev, sizeof(dev)) && nb_csi_dev_of_vdpa(dev, devname) &&
	    nb_csi_loops_detach(dev, err, sizeof(err)) < 0) {
		code = nb_csi_fail(c, CSI_INTERNAL, "NodeUnstageVolume %s: %s", req->volume_id, err);
		goto out;
	}
	if (unlink(spec_path) < 0 && errno != ENOENT) {
		code = nb_csi_fail(c, CSI_INTERNAL, "NodeUnstageVolume %s: remove %s: %s",
				   req->volume_id, spec_path, strerror(errno));
		goto out;
	}
	/* the agent removes the status file once the device is gone */
	for (i = 0; i < (int)(ctx->attach_timeout * 5); i++) {
		if (access(status_path, F_OK) < 0)
			break;
		nb_csi_sleep_ms(200);
	}
	if (access(status_path, F_OK) == 0) {
		code = nb_csi_fail(c, CSI_UNAVAILABLE,
				   "NodeUnstageVolume %s: %s still attached after %.0f s (%s)",
				   req->volume_id, devname, ctx->attach_timeout, status_path);
		goto out;
	}
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__node_unstage_volume_response__init(r);
	*resp = &r->base;
out:
	nb_csi_release(ctx, key);
	return code;
}

/* ---- NodePublishVolume ---- */

static int csi_node_publish(struct csi_call *c, const ProtobufCMessage *m,
			    ProtobufCMessage **resp)
{
	const Csi__V1__NodePublishVolumeRequest *req = (const void *)m;
	Csi__V1__NodePublishVolumeResponse *r;
	const Csi__V1__VolumeCapability *cap = req->volume_capability;
	struct csi_ctx *ctx = c->ctx;
	char key[1200];
	char devname[32], status_path[PATH_MAX], text[4096], state[32], src[PATH_MAX];
	char out[1024];
	const char *why, *target = req->target_path;
	struct stat st;
	dev_t want_dev, mdev;
	bool ro, mro, block;
	int code = CSI_OK, rc;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodePublishVolume: no volume_id");
	if (!req->staging_target_path || !req->staging_target_path[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodePublishVolume %s: no staging_target_path", req->volume_id);
	if (!target || !target[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodePublishVolume %s: no target_path",
				   req->volume_id);
	if (!csi_path_ok(ctx, req->staging_target_path) || !csi_path_ok(ctx, target))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodePublishVolume %s: staging and target paths must be inside %s",
				   req->volume_id, ctx->kubelet_dir);
	why = nb_csi_cap_problem(cap);
	if (why)
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodePublishVolume %s: %s",
				   req->volume_id, why);
	block = cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	ro = req->readonly || nb_csi_cap_readonly(cap);
	csi_node_key(ctx, req->volume_id, key, sizeof(key));
	code = nb_csi_claim(c, key, "NodePublishVolume");
	if (code)
		return code;
	csi_devname(key, devname, sizeof(devname));
	snprintf(status_path, sizeof(status_path), "%s/%s.status", ctx->spec_dir, devname);
	if (nb_csi_read_file(status_path, text, sizeof(text)) < 0 ||
	    !nb_csi_status_get(text, "state", state, sizeof(state)) || strcmp(state, "attached") != 0) {
		code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
				   "NodePublishVolume %s: the volume is not staged on this node",
				   req->volume_id);
		goto out;
	}
	if (block) {
		nb_csi_status_get(text, "device", src, sizeof(src));
		if (!nb_csi_dev_of_vdpa(src, devname) || stat(src, &st) < 0) {
			code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
					   "NodePublishVolume %s: device %s is gone (or no longer %s)",
					   req->volume_id, src, devname);
			goto out;
		}
		want_dev = st.st_rdev;
	} else {
		snprintf(src, sizeof(src), "%s", req->staging_target_path);
		if (!nb_csi_mounted(src, &want_dev, NULL)) {
			code = nb_csi_fail(c, CSI_FAILED_PRECONDITION,
					   "NodePublishVolume %s: nothing is mounted at the staging path %s",
					   req->volume_id, src);
			goto out;
		}
	}
	if (nb_csi_mounted(target, &mdev, &mro)) {
		/* a bind mount of a device node shows the file system the node is on */
		if ((!block && mdev != want_dev) || mro != ro) {
			code = nb_csi_fail(c, CSI_ALREADY_EXISTS,
					   "NodePublishVolume %s: %s is already a mount with other "
					   "settings", req->volume_id, target);
			goto out;
		}
		goto done;
	}
	if (block) {
		char parent[PATH_MAX], *slash;
		int fd;

		snprintf(parent, sizeof(parent), "%s", target);
		slash = strrchr(parent, '/');
		*slash = '\0';
		rc = nb_csi_mkdirs(parent, 0750);
		if (rc == 0 && !csi_path_ok(ctx, parent))
			rc = -ELOOP;	/* a link appeared meanwhile */
		/* O_NOFOLLOW: never create or open a file a link points at */
		fd = rc < 0 ? -1 : open(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd < 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodePublishVolume %s: create %s: %s",
					   req->volume_id, target, strerror(rc < 0 ? -rc : errno));
			goto out;
		}
		close(fd);
	} else {
		rc = nb_csi_mkdirs(target, 0750);
		if (rc < 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodePublishVolume %s: mkdir %s: %s",
					   req->volume_id, target, strerror(-rc));
			goto out;
		}
	}
	if (block && ro && !nb_csi_dev_ro(src)) {
		/*
		 * A read-only mount does not stop writes through a device node
		 * on it: a pod that asked for read-only gets a read-only loop
		 * device over the disk instead (NodeUnpublishVolume removes it).
		 */
		char *lo[] = { "losetup", "--find", "--show", "--read-only", src, NULL };

		rc = nb_csi_run(lo, out, sizeof(out));
		if (rc != 0 || strncmp(out, "/dev/loop", 9) != 0) {
			code = nb_csi_fail(c, CSI_INTERNAL,
					   "NodePublishVolume %s: a read-only view of %s (losetup): %s",
					   req->volume_id, src, out);
			unlink(target);
			goto out;
		}
		snprintf(src, sizeof(src), "%s", out);
	}
	/* mount(8) follows links: the target must still be no link, and inside */
	if (!csi_path_ok(ctx, target)) {
		code = nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodePublishVolume %s: target path %s is (or leads through) a "
				   "link out of %s", req->volume_id, target, ctx->kubelet_dir);
		if (strncmp(src, "/dev/loop", 9) == 0) {
			char *lod[] = { "losetup", "-d", src, NULL };

			nb_csi_run(lod, NULL, 0);
		}
		goto out;
	}
	{
		char *bind[] = { "mount", "--bind", src, (char *)target, NULL };
		char *remount[] = { "mount", "-o", "remount,bind,ro", (char *)target, NULL };

		rc = nb_csi_run(bind, out, sizeof(out));
		if (rc == 0 && ro) {
			rc = nb_csi_run(remount, out, sizeof(out));
			if (rc != 0)
				umount2(target, 0);
		}
		if (rc != 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodePublishVolume %s: bind %s on %s: %s",
					   req->volume_id, src, target, out);
			if (strncmp(src, "/dev/loop", 9) == 0) {
				char *lod[] = { "losetup", "-d", src, NULL };

				nb_csi_run(lod, NULL, 0);
			}
			goto out;
		}
	}
done:
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__node_publish_volume_response__init(r);
	*resp = &r->base;
out:
	nb_csi_release(ctx, key);
	return code;
}

/* ---- NodeUnpublishVolume ---- */

static int csi_node_unpublish(struct csi_call *c, const ProtobufCMessage *m,
			      ProtobufCMessage **resp)
{
	const Csi__V1__NodeUnpublishVolumeRequest *req = (const void *)m;
	Csi__V1__NodeUnpublishVolumeResponse *r;
	struct csi_ctx *ctx = c->ctx;
	char key[1200];
	const char *target = req->target_path;
	char loop[300] = "";
	struct stat st;
	int code = CSI_OK;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeUnpublishVolume: no volume_id");
	if (!target || !target[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeUnpublishVolume %s: no target_path",
				   req->volume_id);
	if (!csi_path_ok(ctx, target))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodeUnpublishVolume %s: target path %s is not inside %s",
				   req->volume_id, target, ctx->kubelet_dir);
	csi_node_key(ctx, req->volume_id, key, sizeof(key));
	code = nb_csi_claim(c, key, "NodeUnpublishVolume");
	if (code)
		return code;
	/*
	 * A read-only block publication is a loop device we made (publish):
	 * detach it while the target still shows which one it is (sysfs by
	 * its device number: /dev/loopN is not minor N with max_part), so a
	 * retry after a failure finds it again; the unmount comes after.
	 */
	if (nb_csi_mounted(target, NULL, NULL) && stat(target, &st) == 0 && S_ISBLK(st.st_mode) &&
	    nb_csi_loop_name(st.st_rdev, loop, sizeof(loop))) {
		char backing[PATH_MAX], out[512];
		char *lod[] = { "losetup", "-d", loop, NULL };

		snprintf(backing, sizeof(backing), "/sys/block/%s/loop/backing_file", loop + 5);
		if (access(backing, F_OK) == 0 && nb_csi_run(lod, out, sizeof(out)) != 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeUnpublishVolume %s: losetup -d %s: %s",
					   req->volume_id, loop, out);
			goto out;
		}
	}
	while (nb_csi_mounted(target, NULL, NULL)) {
		if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeUnpublishVolume %s: unmount %s: %s",
					   req->volume_id, target, strerror(errno));
			goto out;
		}
	}
	if (lstat(target, &st) == 0) {
		if ((S_ISDIR(st.st_mode) ? rmdir(target) : unlink(target)) < 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeUnpublishVolume %s: remove %s: %s",
					   req->volume_id, target, strerror(errno));
			goto out;
		}
	}
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__node_unpublish_volume_response__init(r);
	*resp = &r->base;
out:
	nb_csi_release(ctx, key);
	return code;
}

/* ---- NodeGetVolumeStats ---- */

static Csi__V1__VolumeUsage *csi_usage(struct csi_call *c, Csi__V1__VolumeUsage__Unit unit,
				      int64_t total, int64_t avail, int64_t used)
{
	Csi__V1__VolumeUsage *u = nb_csi_alloc(c, sizeof(*u));

	csi__v1__volume_usage__init(u);
	u->unit = unit;
	u->total = total;
	u->available = avail;
	u->used = used;
	return u;
}

static int csi_node_stats(struct csi_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
	const Csi__V1__NodeGetVolumeStatsRequest *req = (const void *)m;
	Csi__V1__NodeGetVolumeStatsResponse *r;
	struct csi_ctx *ctx = c->ctx;
	char key[1200];
	const char *path = req->volume_path;
	char devname[32], status_path[PATH_MAX], text[4096], state[32], msg[600];
	struct stat st;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeGetVolumeStats: no volume_id");
	if (!path || !path[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeGetVolumeStats %s: no volume_path",
				   req->volume_id);
	if (!csi_path_ok(ctx, path))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodeGetVolumeStats %s: volume path %s is not inside %s",
				   req->volume_id, path, ctx->kubelet_dir);
	if (stat(path, &st) < 0 || !nb_csi_mounted(path, NULL, NULL))
		return nb_csi_fail(c, CSI_NOT_FOUND,
				   "NodeGetVolumeStats %s: %s is not a published volume",
				   req->volume_id, path);
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__node_get_volume_stats_response__init(r);
	if (S_ISBLK(st.st_mode)) {
		int64_t size = (int64_t)nb_csi_dev_size(path);

		r->usage = nb_csi_alloc(c, sizeof(*r->usage));
		r->usage[0] = csi_usage(c, CSI__V1__VOLUME_USAGE__UNIT__BYTES, size, 0, 0);
		r->n_usage = 1;
	} else {
		struct statvfs sv;

		if (statvfs(path, &sv) < 0)
			return nb_csi_fail(c, CSI_INTERNAL, "NodeGetVolumeStats %s: statvfs %s: %s",
					   req->volume_id, path, strerror(errno));
		r->usage = nb_csi_alloc(c, 2 * sizeof(*r->usage));
		r->usage[0] = csi_usage(c, CSI__V1__VOLUME_USAGE__UNIT__BYTES,
					(int64_t)(sv.f_blocks * sv.f_frsize),
					(int64_t)(sv.f_bavail * sv.f_frsize),
					(int64_t)((sv.f_blocks - sv.f_bfree) * sv.f_frsize));
		r->usage[1] = csi_usage(c, CSI__V1__VOLUME_USAGE__UNIT__INODES, (int64_t)sv.f_files,
					(int64_t)sv.f_favail, (int64_t)(sv.f_files - sv.f_ffree));
		r->n_usage = 2;
	}
	csi_node_key(ctx, req->volume_id, key, sizeof(key));
	csi_devname(key, devname, sizeof(devname));
	snprintf(status_path, sizeof(status_path), "%s/%s.status", ctx->spec_dir, devname);
	r->volume_condition = nb_csi_alloc(c, sizeof(*r->volume_condition));
	csi__v1__volume_condition__init(r->volume_condition);
	if (nb_csi_read_file(status_path, text, sizeof(text)) < 0) {
		r->volume_condition->abnormal = 1;
		r->volume_condition->message = nb_csi_strdup(c, "the agent reports nothing about it");
	} else {
		nb_csi_status_get(text, "state", state, sizeof(state));
		nb_csi_status_get(text, "message", msg, sizeof(msg));
		r->volume_condition->abnormal = strcmp(state, "attached") != 0;
		r->volume_condition->message = nb_csi_strdup(c, msg[0] ? msg : state);
	}
	*resp = &r->base;
	return CSI_OK;
}

/* ---- NodeExpandVolume ---- */

static int csi_node_expand(struct csi_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
	const Csi__V1__NodeExpandVolumeRequest *req = (const void *)m;
	Csi__V1__NodeExpandVolumeResponse *r;
	struct csi_ctx *ctx = c->ctx;
	char key[1200];
	const char *path = req->volume_path;
	char devname[32], status_path[PATH_MAX], text[4096], dev[PATH_MAX], out[1024];
	int64_t required = req->capacity_range ? req->capacity_range->required_bytes : 0;
	uint64_t size = 0;
	struct stat st;
	int code = CSI_OK, i, rc;
	bool block;

	if (!req->volume_id || !req->volume_id[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeExpandVolume: no volume_id");
	if (!path || !path[0])
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT, "NodeExpandVolume %s: no volume_path",
				   req->volume_id);
	if (!csi_path_ok(ctx, path))
		return nb_csi_fail(c, CSI_INVALID_ARGUMENT,
				   "NodeExpandVolume %s: volume path %s is not inside %s",
				   req->volume_id, path, ctx->kubelet_dir);
	if (stat(path, &st) < 0 || !nb_csi_mounted(path, NULL, NULL))
		return nb_csi_fail(c, CSI_NOT_FOUND, "NodeExpandVolume %s: %s is not a published volume",
				   req->volume_id, path);
	block = S_ISBLK(st.st_mode) ||
		(req->volume_capability &&
		 req->volume_capability->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK);
	csi_node_key(ctx, req->volume_id, key, sizeof(key));
	code = nb_csi_claim(c, key, "NodeExpandVolume");
	if (code)
		return code;
	csi_devname(key, devname, sizeof(devname));
	snprintf(status_path, sizeof(status_path), "%s/%s.status", ctx->spec_dir, devname);
	if (nb_csi_read_file(status_path, text, sizeof(text)) < 0 ||
	    !nb_csi_status_get(text, "device", dev, sizeof(dev)) || !nb_csi_dev_of_vdpa(dev, devname)) {
		code = nb_csi_fail(c, CSI_NOT_FOUND, "NodeExpandVolume %s: not staged on this node",
				   req->volume_id);
		goto out;
	}
	/* the daemon notices the new size within its --resize-check period */
	for (i = 0; i < (int)(ctx->attach_timeout * 5); i++) {
		size = nb_csi_dev_size(dev);
		if (required <= 0 || size >= (uint64_t)required)
			break;
		nb_csi_sleep_ms(200);
	}
	if (required > 0 && size < (uint64_t)required) {
		code = nb_csi_fail(c, CSI_UNAVAILABLE,
				   "NodeExpandVolume %s: %s is still %llu bytes, %lld asked for",
				   req->volume_id, dev, (unsigned long long)size, (long long)required);
		goto out;
	}
	if (!block) {
		char *argv[] = { "resize2fs", dev, NULL };

		rc = nb_csi_run(argv, out, sizeof(out));
		if (rc != 0) {
			code = nb_csi_fail(c, CSI_INTERNAL, "NodeExpandVolume %s: resize2fs %s: %s",
					   req->volume_id, dev, out);
			goto out;
		}
	}
	r = nb_csi_alloc(c, sizeof(*r));
	csi__v1__node_expand_volume_response__init(r);
	r->capacity_bytes = (int64_t)size;
	*resp = &r->base;
out:
	nb_csi_release(ctx, key);
	return code;
}

/* ---- NodeGetCapabilities, NodeGetInfo ---- */

static int csi_node_caps(struct csi_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
	static const Csi__V1__NodeServiceCapability__RPC__Type types[] = {
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__STAGE_UNSTAGE_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
	};
	size_t i, n = sizeof(types) / sizeof(types[0]);
	Csi__V1__NodeGetCapabilitiesResponse *r = nb_csi_alloc(c, sizeof(*r));

	(void)m;
	csi__v1__node_get_capabilities_response__init(r);
	r->capabilities = nb_csi_alloc(c, n * sizeof(*r->capabilities));
	for (i = 0; i < n; i++) {
		Csi__V1__NodeServiceCapability *cap = nb_csi_alloc(c, sizeof(*cap));
		Csi__V1__NodeServiceCapability__RPC *rpc = nb_csi_alloc(c, sizeof(*rpc));

		csi__v1__node_service_capability__init(cap);
		csi__v1__node_service_capability__rpc__init(rpc);
		rpc->type = types[i];
		cap->type_case = CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC;
		cap->rpc = rpc;
		r->capabilities[i] = cap;
	}
	r->n_capabilities = n;
	*resp = &r->base;
	return CSI_OK;
}

static int csi_node_info(struct csi_call *c, const ProtobufCMessage *m, ProtobufCMessage **resp)
{
	Csi__V1__NodeGetInfoResponse *r = nb_csi_alloc(c, sizeof(*r));

	(void)m;
	csi__v1__node_get_info_response__init(r);
	r->node_id = nb_csi_strdup(c, c->ctx->node_id);
	*resp = &r->base;
	return CSI_OK;
}

const struct csi_method nb_csi_node_methods[] = {
	{ "/csi.v1.Node/NodeStageVolume", &csi__v1__node_stage_volume_request__descriptor,
	  csi_node_stage },
	{ "/csi.v1.Node/NodeUnstageVolume", &csi__v1__node_unstage_volume_request__descriptor,
	  csi_node_unstage },
	{ "/csi.v1.Node/NodePublishVolume", &csi__v1__node_publish_volume_request__descriptor,
	  csi_node_publish },
	{ "/csi.v1.Node/NodeUnpublishVolume", &csi__v1__node_unpublish_volume_request__descriptor,
	  csi_node_unpublish },
	{ "/csi.v1.Node/NodeGetVolumeStats", &csi__v1__node_get_volume_stats_request__descriptor,
	  csi_node_stats },
	{ "/csi.v1.Node/NodeExpandVolume", &csi__v1__node_expand_volume_request__descriptor,
	  csi_node_expand },
	{ "/csi.v1.Node/NodeGetCapabilities", &csi__v1__node_get_capabilities_request__descriptor,
	  csi_node_caps },
	{ "/csi.v1.Node/NodeGetInfo", &csi__v1__node_get_info_request__descriptor, csi_node_info },
	{ NULL, NULL, NULL },
};
