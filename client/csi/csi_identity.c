/* SPDX-License-Identifier: MIT */
/* The CSI Identity service: who we are, what we serve, are we ready. */
#include "csi.h"
#include "csi.pb-c.h"
#include "version.h"

static int csi_get_plugin_info(struct csi_call *c, const ProtobufCMessage *req,
			       ProtobufCMessage **resp)
{
	Csi__V1__GetPluginInfoResponse *r = nb_csi_alloc(c, sizeof(*r));

	(void)req;
	csi__v1__get_plugin_info_response__init(r);
	r->name = nb_csi_strdup(c, c->ctx->driver_name);
	r->vendor_version = nb_csi_strdup(c, nb_version());
	*resp = &r->base;
	return CSI_OK;
}

static int csi_get_plugin_capabilities(struct csi_call *c, const ProtobufCMessage *req,
				       ProtobufCMessage **resp)
{
	Csi__V1__GetPluginCapabilitiesResponse *r = nb_csi_alloc(c, sizeof(*r));
	Csi__V1__PluginCapability **caps = nb_csi_alloc(c, 2 * sizeof(*caps));
	Csi__V1__PluginCapability *svc = nb_csi_alloc(c, sizeof(*svc));
	Csi__V1__PluginCapability *exp = nb_csi_alloc(c, sizeof(*exp));
	Csi__V1__PluginCapability__Service *s = nb_csi_alloc(c, sizeof(*s));
	Csi__V1__PluginCapability__VolumeExpansion *e = nb_csi_alloc(c, sizeof(*e));

	(void)req;
	csi__v1__get_plugin_capabilities_response__init(r);
	csi__v1__plugin_capability__init(svc);
	csi__v1__plugin_capability__init(exp);
	csi__v1__plugin_capability__service__init(s);
	csi__v1__plugin_capability__volume_expansion__init(e);
	s->type = CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE;
	svc->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
	svc->service = s;
	e->type = CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE;
	exp->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION;
	exp->volume_expansion = e;
	caps[0] = svc;
	caps[1] = exp;
	r->n_capabilities = 2;
	r->capabilities = caps;
	*resp = &r->base;
	return CSI_OK;
}

static int csi_probe(struct csi_call *c, const ProtobufCMessage *req,
		     ProtobufCMessage **resp)
{
	Csi__V1__ProbeResponse *r = nb_csi_alloc(c, sizeof(*r));
	Csi__V1__BoolValue *ready = nb_csi_alloc(c, sizeof(*ready));

	(void)req;
	csi__v1__probe_response__init(r);
	csi__v1__bool_value__init(ready);
	ready->value = 1;
	r->ready = ready;
	*resp = &r->base;
	return CSI_OK;
}

const struct csi_method nb_csi_identity_methods[] = {
	{ "/csi.v1.Identity/GetPluginInfo", &csi__v1__get_plugin_info_request__descriptor,
	  csi_get_plugin_info },
	{ "/csi.v1.Identity/GetPluginCapabilities",
	  &csi__v1__get_plugin_capabilities_request__descriptor, csi_get_plugin_capabilities },
	{ "/csi.v1.Identity/Probe", &csi__v1__probe_request__descriptor, csi_probe },
	{ NULL, NULL, NULL },
};
