/* SPDX-License-Identifier: MIT */
/* vdpa generic-netlink client: VDPA_CMD_DEV_NEW / VDPA_CMD_DEV_DEL. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/vdpa.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "errmsg.h"
#include "vdpa_nl.h"

/* The kernel's answer to our request: 0 or -errno from its nlmsgerr. */
static int vdpa_on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	int *result = arg;

	*result = e->error;
	return NL_STOP;
}

static int vdpa_on_ack(struct nl_msg *msg, void *arg)
{
	int *result = arg;

	*result = 0;
	return NL_STOP;
}

/*
 * Send one request built by the caller's attributes and wait for the
 * kernel's ack or error. Returns 0 or -errno from the kernel; -ENOENT
 * when the vdpa family is not registered.
 */
static int vdpa_transact(uint8_t cmd, const char *name, const char *mgmtdev,
			 char *err, size_t errlen)
{
	struct nl_sock *sock;
	struct nl_msg *msg = NULL;
	struct nl_cb *cb = NULL;
	int family, ret, result = 1;

	if (err && errlen)
		err[0] = '\0';
	sock = nl_socket_alloc();
	if (!sock)
		return nb_errf(err, errlen, -ENOMEM, "out of memory");
	ret = genl_connect(sock);
	if (ret < 0) {
		ret = nb_errf(err, errlen, -EIO,
			      "cannot open a generic netlink socket: %s",
			      nl_geterror(ret));
		goto out_free_sock;
	}
	family = genl_ctrl_resolve(sock, VDPA_GENL_NAME);
	if (family < 0) {
		ret = nb_errf(err, errlen, -ENOENT,
			      "the kernel has no vdpa netlink family: load the "
			      "'vdpa' and 'vduse' modules (modprobe vduse)");
		goto out_free_sock;
	}
	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!msg || !cb) {
		ret = nb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
			 NLM_F_REQUEST | NLM_F_ACK, cmd, VDPA_GENL_VERSION) ||
	    nla_put_string(msg, VDPA_ATTR_DEV_NAME, name) < 0) {
		ret = nb_errf(err, errlen, -EMSGSIZE, "netlink message too large");
		goto out_free;
	}
	if (mgmtdev) {
		const char *slash = strchr(mgmtdev, '/');

		if (slash) {
			char bus[64];
			size_t n = slash - mgmtdev;

			if (n == 0 || n >= sizeof(bus) || !slash[1]) {
				ret = nb_errf(err, errlen, -EINVAL,
					      "bad management device '%s' "
					      "(expected NAME or BUS/NAME)",
					      mgmtdev);
				goto out_free;
			}
			memcpy(bus, mgmtdev, n);
			bus[n] = '\0';
			if (nla_put_string(msg, VDPA_ATTR_MGMTDEV_BUS_NAME, bus) < 0 ||
			    nla_put_string(msg, VDPA_ATTR_MGMTDEV_DEV_NAME,
					   slash + 1) < 0) {
				ret = -EMSGSIZE;
				goto out_free;
			}
		} else if (nla_put_string(msg, VDPA_ATTR_MGMTDEV_DEV_NAME,
					  mgmtdev) < 0) {
			ret = -EMSGSIZE;
			goto out_free;
		}
	}
	nl_cb_err(cb, NL_CB_CUSTOM, vdpa_on_error, &result);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, vdpa_on_ack, &result);
	ret = nl_send_auto(sock, msg);
	if (ret < 0) {
		ret = nb_errf(err, errlen, -EIO, "netlink send failed: %s",
			      nl_geterror(ret));
		goto out_free;
	}
	while (result == 1) {
		ret = nl_recvmsgs(sock, cb);
		if (ret < 0 && result == 1) {
			ret = nb_errf(err, errlen, -EIO,
				      "netlink receive failed: %s",
				      nl_geterror(ret));
			goto out_free;
		}
	}
	ret = result;
out_free:
	nl_cb_put(cb);
	nlmsg_free(msg);
out_free_sock:
	nl_socket_free(sock);
	return ret;
}

int nb_vdpa_dev_add(const char *name, const char *mgmtdev, char *err,
		 size_t errlen)
{
	int ret;

	if (!mgmtdev)
		mgmtdev = VDPA_DEFAULT_MGMTDEV;
	ret = vdpa_transact(VDPA_CMD_DEV_NEW, name, mgmtdev, err, errlen);
	switch (ret) {
	case 0:
		return 0;
	case -EEXIST:
		return nb_errf(err, errlen, ret,
			       "a vDPA device named '%s' exists already", name);
	case -ENODEV:
	case -ENOENT:
		if (err && errlen && err[0] && ret == -ENOENT)
			return ret;
		return nb_errf(err, errlen, -ENOENT,
			       "vdpa management device '%s' not found, or no "
			       "VDUSE device '%s' to attach (is the '%s' "
			       "module loaded?)", mgmtdev, name, mgmtdev);
	case -EPERM:
	case -EACCES:
		return nb_errf(err, errlen, -EPERM,
			       "not allowed to add vDPA device '%s': needs "
			       "CAP_NET_ADMIN", name);
	default:
		if (ret < 0 && err && errlen && !err[0])
			nb_errf(err, errlen, ret,
				"adding vDPA device '%s' on '%s' failed: %s",
				name, mgmtdev, strerror(-ret));
		return ret;
	}
}

int nb_vdpa_dev_del(const char *name, char *err, size_t errlen)
{
	int ret;

	ret = vdpa_transact(VDPA_CMD_DEV_DEL, name, NULL, err, errlen);
	switch (ret) {
	case 0:
		return 0;
	case -ENODEV:
		return nb_errf(err, errlen, ret, "no vDPA device named '%s'",
			       name);
	case -EPERM:
	case -EACCES:
		return nb_errf(err, errlen, -EPERM,
			       "not allowed to delete vDPA device '%s': needs "
			       "CAP_NET_ADMIN", name);
	default:
		if (ret < 0 && err && errlen && !err[0])
			nb_errf(err, errlen, ret,
				"deleting vDPA device '%s' failed: %s", name,
				strerror(-ret));
		return ret;
	}
}
