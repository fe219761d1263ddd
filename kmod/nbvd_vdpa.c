// SPDX-License-Identifier: GPL-2.0
/*
 * The vDPA side: a management device ("vdpa dev add name NAME mgmtdev
 * netblk-vduse") that attaches a VDUSE device created earlier, and the
 * vdpa_config_ops a virtio-vdpa or vhost-vdpa driver calls, forwarded to the
 * device's server as control messages where the uAPI has one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-map-ops.h>
#include <linux/module.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "nbvd.h"

static struct nbvd_dev *nbvd_vdpa_dev(struct vdpa_device *vdpa)
{
	return container_of(vdpa, struct nbvd_vdpa, vdpa)->dev;
}

static int nbvd_vdpa_set_vq_address(struct vdpa_device *vdpa, u16 idx,
				    u64 desc_area, u64 driver_area,
				    u64 device_area)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	struct nbvd_vq *vq = &dev->vqs[idx];

	spin_lock(&dev->vq_lock);
	vq->desc_addr = desc_area;
	vq->driver_addr = driver_area;
	vq->device_addr = device_area;
	spin_unlock(&dev->vq_lock);
	return 0;
}

static void nbvd_vdpa_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	spin_lock(&dev->vq_lock);
	dev->vqs[idx].num = num;
	spin_unlock(&dev->vq_lock);
}

static void nbvd_vdpa_kick_vq(struct vdpa_device *vdpa, u16 idx)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	if (idx < dev->vq_num)
		nbvd_dev_vq_kick(&dev->vqs[idx]);
}

static void nbvd_vdpa_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
				struct vdpa_callback *cb)
{
	struct nbvd_vq *vq = &nbvd_vdpa_dev(vdpa)->vqs[idx];

	spin_lock_irq(&vq->irq_lock);
	vq->cb = *cb;
	spin_unlock_irq(&vq->irq_lock);
}

static void nbvd_vdpa_set_vq_ready(struct vdpa_device *vdpa, u16 idx,
				   bool ready)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	spin_lock(&dev->vq_lock);
	dev->vqs[idx].ready = ready;
	spin_unlock(&dev->vq_lock);
}

static bool nbvd_vdpa_get_vq_ready(struct vdpa_device *vdpa, u16 idx)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	bool ready;

	spin_lock(&dev->vq_lock);
	ready = dev->vqs[idx].ready;
	spin_unlock(&dev->vq_lock);
	return ready;
}

static int nbvd_vdpa_set_vq_state(struct vdpa_device *vdpa, u16 idx,
				  const struct vdpa_vq_state *state)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	spin_lock(&dev->vq_lock);
	dev->vqs[idx].state = *state;
	spin_unlock(&dev->vq_lock);
	return 0;
}

static int nbvd_vdpa_get_vq_state(struct vdpa_device *vdpa, u16 idx,
				  struct vdpa_vq_state *state)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	struct vduse_dev_request req = { .type = VDUSE_GET_VQ_STATE };
	struct vduse_dev_response resp;
	bool packed;
	int ret;

	req.vq_state.index = idx;
	ret = nbvd_msg_send(dev, &req, &resp);
	if (ret)
		return ret;
	spin_lock(&dev->vq_lock);
	packed = dev->driver_features & BIT_ULL(VIRTIO_F_RING_PACKED);
	spin_unlock(&dev->vq_lock);
	memset(state, 0, sizeof(*state));
	if (packed) {
		state->packed.last_avail_counter =
			resp.vq_state.packed.last_avail_counter & 1;
		state->packed.last_avail_idx =
			resp.vq_state.packed.last_avail_idx;
		state->packed.last_used_counter =
			resp.vq_state.packed.last_used_counter & 1;
		state->packed.last_used_idx =
			resp.vq_state.packed.last_used_idx;
	} else {
		state->split.avail_index = resp.vq_state.split.avail_index;
	}
	return 0;
}

static u16 nbvd_vdpa_get_vq_size(struct vdpa_device *vdpa, u16 idx)
{
	return nbvd_vdpa_dev(vdpa)->vqs[idx].num_max;
}

static u32 nbvd_vdpa_get_vq_align(struct vdpa_device *vdpa)
{
	return nbvd_vdpa_dev(vdpa)->vq_align;
}

static u64 nbvd_vdpa_get_device_features(struct vdpa_device *vdpa)
{
	return nbvd_vdpa_dev(vdpa)->device_features;
}

static int nbvd_vdpa_set_driver_features(struct vdpa_device *vdpa,
					 u64 features)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	spin_lock(&dev->vq_lock);
	dev->driver_features = features & dev->device_features;
	spin_unlock(&dev->vq_lock);
	return 0;
}

static u64 nbvd_vdpa_get_driver_features(struct vdpa_device *vdpa)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	u64 features;

	spin_lock(&dev->vq_lock);
	features = dev->driver_features;
	spin_unlock(&dev->vq_lock);
	return features;
}

static void nbvd_vdpa_set_config_cb(struct vdpa_device *vdpa,
				    struct vdpa_callback *cb)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	spin_lock_irq(&dev->config_irq_lock);
	dev->config_cb = *cb;
	spin_unlock_irq(&dev->config_irq_lock);
}

static u16 nbvd_vdpa_get_vq_num_max(struct vdpa_device *vdpa)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	u16 max = 0;
	u32 i;

	for (i = 0; i < dev->vq_num; i++)
		max = max(max, dev->vqs[i].num_max);
	return max;
}

static u32 nbvd_vdpa_get_device_id(struct vdpa_device *vdpa)
{
	return nbvd_vdpa_dev(vdpa)->device_id;
}

static u32 nbvd_vdpa_get_vendor_id(struct vdpa_device *vdpa)
{
	return nbvd_vdpa_dev(vdpa)->vendor_id;
}

static u8 nbvd_vdpa_get_status(struct vdpa_device *vdpa)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	u8 status;

	spin_lock(&dev->vq_lock);
	status = dev->status;
	spin_unlock(&dev->vq_lock);
	return status;
}

static void nbvd_vdpa_set_status(struct vdpa_device *vdpa, u8 status)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	struct vduse_dev_request req = { .type = VDUSE_SET_STATUS };

	req.s.status = status;
	if (nbvd_msg_send(dev, &req, NULL)) {
		/* The driver sees the status unchanged and gives up. */
		return;
	}
	spin_lock(&dev->vq_lock);
	dev->status = status;
	spin_unlock(&dev->vq_lock);
}

static int nbvd_vdpa_reset(struct vdpa_device *vdpa)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	struct vduse_dev_request req = { .type = VDUSE_SET_STATUS };
	int ret;

	/*
	 * A server that does not answer cannot stop the reset: the kernel
	 * side is reset anyway, so a detach always completes.
	 */
	ret = nbvd_msg_send(dev, &req, NULL);
	if (ret)
		pr_warn_ratelimited("%s: reset not acknowledged by the server (%d)\n",
				    dev->name, ret);
	nbvd_dev_reset_state(dev);
	return 0;
}

static size_t nbvd_vdpa_get_config_size(struct vdpa_device *vdpa)
{
	return nbvd_vdpa_dev(vdpa)->config_size;
}

static void nbvd_vdpa_get_config(struct vdpa_device *vdpa, unsigned int offset,
				 void *buf, unsigned int len)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);

	memset(buf, 0, len);
	if (offset > dev->config_size)
		return;
	len = min(len, dev->config_size - offset);
	spin_lock(&dev->config_lock);
	memcpy(buf, dev->config + offset, len);
	spin_unlock(&dev->config_lock);
}

static void nbvd_vdpa_set_config(struct vdpa_device *vdpa, unsigned int offset,
				 const void *buf, unsigned int len)
{
	/* VDUSE has no message for config writes; they are ignored. */
}

static u32 nbvd_vdpa_get_generation(struct vdpa_device *vdpa)
{
	struct nbvd_dev *dev = nbvd_vdpa_dev(vdpa);
	u32 gen;

	spin_lock(&dev->vq_lock);
	gen = dev->generation;
	spin_unlock(&dev->vq_lock);
	return gen;
}

static int nbvd_vdpa_set_map(struct vdpa_device *vdpa, unsigned int asid,
			     struct vhost_iotlb *iotlb)
{
	struct nbvd_vdpa *nv = container_of(vdpa, struct nbvd_vdpa, vdpa);
	struct vduse_dev_request req = { .type = VDUSE_UPDATE_IOTLB };
	int ret;

	if (asid)
		return -EINVAL;
	ret = nbvd_domain_set_user_map(nv->domain, iotlb);
	if (ret)
		return ret;
	req.iova.start = 0;
	req.iova.last = ULLONG_MAX;
	return nbvd_msg_send(nv->dev, &req, NULL);
}

/*
 * vhost-vdpa unpinned every page when its file was released; it calls this
 * (not set_map) afterwards, so the server must lose them here.
 */
static int nbvd_vdpa_reset_map(struct vdpa_device *vdpa, unsigned int asid)
{
	struct nbvd_vdpa *nv = container_of(vdpa, struct nbvd_vdpa, vdpa);
	struct vduse_dev_request req = { .type = VDUSE_UPDATE_IOTLB };

	if (asid)
		return -EINVAL;
	nbvd_domain_reset_user_map(nv->domain);
	req.iova.start = 0;
	req.iova.last = ULLONG_MAX;
	/* The maps are gone whatever the server says. */
	nbvd_msg_send(nv->dev, &req, NULL);
	return 0;
}

static void nbvd_vdpa_free(struct vdpa_device *vdpa)
{
}

static const struct vdpa_config_ops nbvd_vdpa_ops = {
	.set_vq_address = nbvd_vdpa_set_vq_address,
	.set_vq_num = nbvd_vdpa_set_vq_num,
	.kick_vq = nbvd_vdpa_kick_vq,
	.set_vq_cb = nbvd_vdpa_set_vq_cb,
	.set_vq_ready = nbvd_vdpa_set_vq_ready,
	.get_vq_ready = nbvd_vdpa_get_vq_ready,
	.set_vq_state = nbvd_vdpa_set_vq_state,
	.get_vq_state = nbvd_vdpa_get_vq_state,
	.get_vq_size = nbvd_vdpa_get_vq_size,
	.get_vq_align = nbvd_vdpa_get_vq_align,
	.get_device_features = nbvd_vdpa_get_device_features,
	.set_driver_features = nbvd_vdpa_set_driver_features,
	.get_driver_features = nbvd_vdpa_get_driver_features,
	.set_config_cb = nbvd_vdpa_set_config_cb,
	.get_vq_num_max = nbvd_vdpa_get_vq_num_max,
	.get_device_id = nbvd_vdpa_get_device_id,
	.get_vendor_id = nbvd_vdpa_get_vendor_id,
	.get_status = nbvd_vdpa_get_status,
	.set_status = nbvd_vdpa_set_status,
	.reset = nbvd_vdpa_reset,
	.get_config_size = nbvd_vdpa_get_config_size,
	.get_config = nbvd_vdpa_get_config,
	.set_config = nbvd_vdpa_set_config,
	.get_generation = nbvd_vdpa_get_generation,
	.set_map = nbvd_vdpa_set_map,
	.reset_map = nbvd_vdpa_reset_map,
	.free = nbvd_vdpa_free,
};

static struct device *nbvd_mgmt_root;

static int nbvd_vdpa_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			     const struct vdpa_dev_set_config *config);
static void nbvd_vdpa_dev_del(struct vdpa_mgmt_dev *mdev,
			      struct vdpa_device *vdpa);

static const struct vdpa_mgmtdev_ops nbvd_mgmt_ops = {
	.dev_add = nbvd_vdpa_dev_add,
	.dev_del = nbvd_vdpa_dev_del,
};

static struct virtio_device_id nbvd_id_table[] = {
	{ VIRTIO_ID_BLOCK, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static struct vdpa_mgmt_dev nbvd_mgmt = {
	.ops = &nbvd_mgmt_ops,
	.id_table = nbvd_id_table,
};

static int nbvd_vdpa_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			     const struct vdpa_dev_set_config *config)
{
	struct nbvd_domain *domain;
	struct nbvd_vdpa *nv;
	struct nbvd_dev *dev;
	int ret = 0;
	u32 i;

	if (config->mask)
		return -EOPNOTSUPP;

	mutex_lock(&nbvd_lock);
	dev = nbvd_dev_find_locked(name);
	if (!dev) {
		ret = -ENODEV;
	} else if (dev->vdpa) {
		ret = -EEXIST;
	} else {
		for (i = 0; i < dev->vq_num; i++)
			if (!dev->vqs[i].num_max)
				ret = -EINVAL;
	}
	if (ret) {
		mutex_unlock(&nbvd_lock);
		return ret;
	}

	/* bounce_size is fixed from here until detach (its store: EPERM). */
	domain = nbvd_domain_create(dev->bounce_size);
	if (!domain) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	nv = vdpa_alloc_device(struct nbvd_vdpa, vdpa, dev->chardev,
			       &nbvd_vdpa_ops, 1, 1, name, false);
	if (IS_ERR(nv)) {
		ret = PTR_ERR(nv);
		goto out_put_domain;
	}
	nv->dev = dev;
	nv->domain = domain;
	nv->vdpa.mdev = &nbvd_mgmt;
	nv->vdpa.dma_dev = &nv->vdpa.dev;
	nv->vdpa.dev.dma_mask = &nv->vdpa.dev.coherent_dma_mask;
	set_dma_ops(&nv->vdpa.dev, &nbvd_dma_ops);
	ret = dma_set_mask_and_coherent(&nv->vdpa.dev, DMA_BIT_MASK(64));
	if (ret)
		goto out_put_vdpa;

	nbvd_dev_reset_state(dev);
	dev->vdpa = nv;
	mutex_lock(&dev->lock);
	dev->domain = domain;
	mutex_unlock(&dev->lock);
	/* Registering probes the driver, which talks to the server. */
	mutex_unlock(&nbvd_lock);

	ret = _vdpa_register_device(&nv->vdpa, dev->vq_num);
	if (ret) {
		mutex_lock(&nbvd_lock);
		mutex_lock(&dev->lock);
		dev->domain = NULL;
		mutex_unlock(&dev->lock);
		dev->vdpa = NULL;
		put_device(&nv->vdpa.dev);
		nbvd_domain_put(domain);
		mutex_unlock(&nbvd_lock);
		return ret;
	}
	return 0;

out_put_vdpa:
	put_device(&nv->vdpa.dev);
out_put_domain:
	nbvd_domain_put(domain);
out_unlock:
	mutex_unlock(&nbvd_lock);
	return ret;
}

static void nbvd_vdpa_dev_del(struct vdpa_mgmt_dev *mdev,
			      struct vdpa_device *vdpa)
{
	struct nbvd_vdpa *nv = container_of(vdpa, struct nbvd_vdpa, vdpa);
	struct nbvd_domain *domain = nv->domain;
	struct nbvd_dev *dev = nv->dev;

	_vdpa_unregister_device(vdpa);

	mutex_lock(&nbvd_lock);
	mutex_lock(&dev->lock);
	dev->domain = NULL;
	mutex_unlock(&dev->lock);
	dev->vdpa = NULL;
	mutex_unlock(&nbvd_lock);
	nbvd_domain_put(domain);
}

int nbvd_vdpa_init(void)
{
	int ret;

	nbvd_mgmt_root = root_device_register(NBVD_MGMTDEV_NAME);
	if (IS_ERR(nbvd_mgmt_root))
		return PTR_ERR(nbvd_mgmt_root);
	nbvd_mgmt.device = nbvd_mgmt_root;
	nbvd_mgmt.max_supported_vqs = NBVD_MAX_VQS;
	ret = vdpa_mgmtdev_register(&nbvd_mgmt);
	if (ret) {
		root_device_unregister(nbvd_mgmt_root);
		return ret;
	}
	return 0;
}

void nbvd_vdpa_exit(void)
{
	vdpa_mgmtdev_unregister(&nbvd_mgmt);
	root_device_unregister(nbvd_mgmt_root);
}
