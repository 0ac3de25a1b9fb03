/*
 * fsm_open.c — OPEN negotiation: our OPEN for a peer, and the verdict on the
 * peer's OPEN against its configuration.
 *
 * Runs on the io thread that owns the peer, called from fsm_step() on
 * BGPOpen (and usable alone). Pure: no I/O, no allocation, no globals.
 *
 * The decoder (bgp_open_decode) has already checked the syntax of the OPEN;
 * here we check what only the configuration can tell: the version we speak,
 * the peer's AS, its BGP Identifier, the hold time, the capabilities we insist
 * on, and we compute what both sides agreed on (struct fsm_nego). Checks run
 * in the order of RFC 4271 §6.2 so that a bad OPEN gets the same NOTIFICATION
 * from us as from other implementations.
 */
#include <string.h>

#include "routehub/fsm.h"

void
fsm_open_cfg_defaults(struct fsm_open_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->local_as = 65515;
	c->hold_time = 180;
	c->keepalive = 60;
	c->caps_offer = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 |
	    BGP_CAPF_ERR | BGP_CAPF_EXTMSG;
	c->af_offer[BGP_AF_IPV4] = 1;
	c->af_offer[BGP_AF_IPV6] = 1;
	c->gr_restart_time = 120;
}

static bool
offers_as4(const struct fsm_open_cfg *c)
{
	return (c->caps_offer & BGP_CAPF_AS4) && !c->two_octet_asn_only;
}

int
fsm_open_cfg_check(const struct fsm_open_cfg *c, const char **reason)
{
	const char *r = NULL;
	int i, any = 0;

	for (i = 0; i < BGP_AF_MAX; i++)
		any |= c->af_offer[i];
	if (c->local_as == 0)
		r = "local AS 0 is reserved (RFC 7607)";
	else if (c->local_as == BGP_AS_TRANS)
		r = "local AS 23456 is AS_TRANS (RFC 6793 §9)";
	else if (c->local_as > 0xffff && c->two_octet_asn_only)
		r = "a 4-octet local AS needs the 4-octet AS capability";
	else if (c->router_id == 0)
		r = "router id 0 is invalid (RFC 6286 §2.1)";
	else if (c->hold_time == 1 || c->hold_time == 2)
		r = "hold time must be 0 or at least 3 seconds (RFC 4271 §4.2)";
	else if ((c->caps_offer & BGP_CAPF_MP) && !any)
		r = "multiprotocol capability offered without any family";
	if (reason != NULL)
		*reason = r;
	return r == NULL ? 0 : -1;
}

void
fsm_open_build(const struct fsm_open_cfg *c, struct bgp_open *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->version = BGP_VERSION;
	o->asn = c->local_as;
	/* RFC 6793 §4.1: a 4-octet AS goes as AS_TRANS in My Autonomous System. */
	o->my_as = c->local_as > 0xffff ? BGP_AS_TRANS : (uint16_t)c->local_as;
	o->hold_time = c->hold_time;
	o->bgp_id = c->router_id;
	o->caps = c->caps_offer;
	if (c->two_octet_asn_only)
		o->caps &= ~BGP_CAPF_AS4;
	for (i = 0; i < BGP_AF_MAX; i++) {
		if (o->caps & BGP_CAPF_MP)
			o->mp[i] = c->af_offer[i];
		if ((o->caps & BGP_CAPF_ADDPATH) && c->af_offer[i])
			o->addpath[i] = c->addpath_offer[i];
		if (o->caps & BGP_CAPF_GR)
			o->gr.af[i] = c->af_offer[i];
	}
	if (o->caps & BGP_CAPF_GR)
		o->gr.restart_time = c->gr_restart_time & 0x0fff;
}

static void
refuse(struct fsm_notify *err, uint8_t subcode, const char *reason)
{
	err->code = BGP_ERR_OPEN;
	err->subcode = subcode;
	err->reason = reason;
}

/* Append one capability TLV (RFC 5492 §4) to the NOTIFICATION data: RFC 5492
 * §5 wants the capabilities that caused the Unsupported Capability error. */
static void
put_cap(struct fsm_notify *err, uint8_t code, const uint8_t *val, uint8_t len)
{
	if ((size_t)err->data_len + 2 + len > sizeof(err->data))
		return; /* cannot happen with the capabilities below; stay in bounds */
	err->data[err->data_len++] = code;
	err->data[err->data_len++] = len;
	if (len > 0)
		memcpy(err->data + err->data_len, val, len);
	err->data_len += len;
}

static void
put_cap_af(struct fsm_notify *err, uint8_t code, int af, uint8_t extra)
{
	uint16_t afi = af == BGP_AF_IPV4 ? BGP_AFI_IPV4 : BGP_AFI_IPV6;
	uint8_t v[4];

	v[0] = afi >> 8;
	v[1] = afi & 0xff;
	if (code == BGP_CAP_MP) { /* RFC 4760 §8: AFI, Reserved, SAFI */
		v[2] = 0;
		v[3] = BGP_SAFI_UNICAST;
	} else { /* RFC 7911 §4: AFI, SAFI, Send/Receive */
		v[2] = BGP_SAFI_UNICAST;
		v[3] = extra;
	}
	put_cap(err, code, v, 4);
}

/* Does the peer's OPEN carry the family af (explicitly, or implicitly: IPv4
 * unicast when there is no multiprotocol capability, RFC 4760 §8)? */
static bool
peer_has_af(const struct bgp_open *o, int af)
{
	if (o->caps & BGP_CAPF_MP)
		return o->mp[af] != 0;
	return af == BGP_AF_IPV4;
}

static bool
we_offer_af(const struct fsm_open_cfg *c, int af)
{
	if (c->caps_offer & BGP_CAPF_MP)
		return c->af_offer[af] != 0;
	return af == BGP_AF_IPV4;
}

/* RFC 5492 §5: refuse only what we require; unknown capabilities are ignored. */
static int
check_required(const struct fsm_open_cfg *c, const struct bgp_open *o,
    struct fsm_notify *err)
{
	uint32_t req = c->caps_require;
	uint8_t v[4];
	int af;

	if ((req & BGP_CAPF_AS4) && !(o->caps & BGP_CAPF_AS4)) {
		v[0] = c->local_as >> 24;
		v[1] = (c->local_as >> 16) & 0xff;
		v[2] = (c->local_as >> 8) & 0xff;
		v[3] = c->local_as & 0xff;
		put_cap(err, BGP_CAP_AS4, v, 4);
	}
	if (req & BGP_CAPF_MP) {
		for (af = 0; af < BGP_AF_MAX; af++)
			if (we_offer_af(c, af) &&
			    (!(o->caps & BGP_CAPF_MP) || !o->mp[af]))
				put_cap_af(err, BGP_CAP_MP, af, 0);
	}
	if ((req & BGP_CAPF_RREFRESH) &&
	    !(o->caps & (BGP_CAPF_RREFRESH | BGP_CAPF_RREFRESH_OLD)))
		put_cap(err, BGP_CAP_RREFRESH, NULL, 0);
	if ((req & BGP_CAPF_EXTMSG) && !(o->caps & BGP_CAPF_EXTMSG))
		put_cap(err, BGP_CAP_EXTMSG, NULL, 0);
	if ((req & BGP_CAPF_ERR) && !(o->caps & BGP_CAPF_ERR))
		put_cap(err, BGP_CAP_ERR, NULL, 0);
	if ((req & BGP_CAPF_GR) && !(o->caps & BGP_CAPF_GR)) {
		/* RFC 4724 §3: Restart Flags (4 bits) and Restart Time (12 bits) */
		v[0] = (c->gr_restart_time >> 8) & 0x0f;
		v[1] = c->gr_restart_time & 0xff;
		put_cap(err, BGP_CAP_GR, v, 2);
	}
	if (req & BGP_CAPF_ADDPATH) {
		for (af = 0; af < BGP_AF_MAX; af++)
			if (c->addpath_offer[af] && we_offer_af(c, af) &&
			    (!(o->caps & BGP_CAPF_ADDPATH) || !o->addpath[af]))
				put_cap_af(err, BGP_CAP_ADDPATH, af,
				    c->addpath_offer[af]);
	}
	if (err->data_len == 0)
		return 0;
	refuse(err, BGP_ERR_OPEN_CAPA,
	    "peer lacks a capability we require (RFC 5492 §5)");
	return -1;
}

/* RFC 6793 §4.2: without the capability on both sides the peer's AS is the
 * 2-octet field. A configuration naming the real 4-octet AS still matches a
 * peer that sent AS_TRANS with a capability carrying that AS. */
static int
check_peer_as(const struct fsm_open_cfg *c, const struct bgp_open *o,
    bool as4, uint32_t *real, struct fsm_notify *err)
{
	uint32_t as = as4 ? o->asn : o->my_as;

	*real = as;
	if (o->my_as == 0 || as == 0) {
		refuse(err, BGP_ERR_OPEN_PEER_AS, "peer AS 0 (RFC 7607 §2)");
		return -1;
	}
	if (!as4 && o->my_as == BGP_AS_TRANS && (o->caps & BGP_CAPF_AS4) &&
	    o->asn != 0 && c->peer_as == o->asn) {
		*real = o->asn;
		return 0;
	}
	/* AS_TRANS is reserved (RFC 6793 §9): a peer without the capability
	 * that claims it is misconfigured unless we were told to expect it. */
	if (!(o->caps & BGP_CAPF_AS4) && o->my_as == BGP_AS_TRANS &&
	    c->peer_as != BGP_AS_TRANS) {
		refuse(err, BGP_ERR_OPEN_PEER_AS,
		    "peer AS is AS_TRANS without the 4-octet AS capability");
		return -1;
	}
	if (c->peer_as != 0 && as != c->peer_as) {
		refuse(err, BGP_ERR_OPEN_PEER_AS,
		    "peer AS differs from the configured one (RFC 4271 §6.2)");
		return -1;
	}
	return 0;
}

int
fsm_open_negotiate(const struct fsm_open_cfg *c, const struct bgp_open *o,
    struct fsm_nego *n, struct fsm_notify *err)
{
	bool as4, ibgp;
	uint32_t real, ka;
	int af;

	memset(n, 0, sizeof(*n));
	memset(err, 0, sizeof(*err));

	/* RFC 4271 §6.2: data is the largest version we support, 2 octets. */
	if (o->version != BGP_VERSION) {
		refuse(err, BGP_ERR_OPEN_VERSION, "unsupported BGP version");
		err->data[0] = 0;
		err->data[1] = BGP_VERSION;
		err->data_len = 2;
		return -1;
	}
	as4 = offers_as4(c) && (o->caps & BGP_CAPF_AS4);
	if (check_peer_as(c, o, as4, &real, err) == -1)
		return -1;
	ibgp = real == c->local_as;
	/* RFC 6286 §2.2: zero is invalid; equal to ours only within one AS. */
	if (o->bgp_id == 0) {
		refuse(err, BGP_ERR_OPEN_BGPID, "BGP identifier 0");
		return -1;
	}
	if (ibgp && o->bgp_id == c->router_id) {
		refuse(err, BGP_ERR_OPEN_BGPID,
		    "internal peer uses our BGP identifier (RFC 6286 §2.2)");
		return -1;
	}
	/* RFC 4271 §4.2 / §6.2: 0 or at least 3 seconds. */
	if (o->hold_time == 1 || o->hold_time == 2) {
		refuse(err, BGP_ERR_OPEN_HOLDTIME, "hold time 1 or 2 seconds");
		return -1;
	}
	if (check_required(c, o, err) == -1)
		return -1;

	n->peer_as = real;
	n->peer_id = o->bgp_id;
	n->sess.as4 = as4;
	n->sess.ibgp = ibgp;
	n->sess.ext_msg = (c->caps_offer & BGP_CAPF_EXTMSG) &&
	    (o->caps & BGP_CAPF_EXTMSG);
	for (af = 0; af < BGP_AF_MAX; af++) {
		/* RFC 4760 §8: a family is usable when both sides carry it. */
		n->sess.af[af] = we_offer_af(c, af) && peer_has_af(o, af);
		if (!n->sess.af[af] || !(c->caps_offer & BGP_CAPF_ADDPATH) ||
		    !(o->caps & BGP_CAPF_ADDPATH))
			continue;
		/* RFC 7911 §4: we receive path ids if we said Receive and the
		 * peer said Send, and the other way round. */
		n->sess.addpath_rx[af] = (c->addpath_offer[af] & BGP_ADDPATH_RECV) &&
		    (o->addpath[af] & BGP_ADDPATH_SEND);
		n->sess.addpath_tx[af] = (c->addpath_offer[af] & BGP_ADDPATH_SEND) &&
		    (o->addpath[af] & BGP_ADDPATH_RECV);
	}

	/* RFC 4271 §4.2: the smaller of the two; 0 means no keepalives. */
	n->hold_time = c->hold_time < o->hold_time ? c->hold_time : o->hold_time;
	if (n->hold_time != 0) {
		ka = n->hold_time / 3;
		if (c->keepalive != 0 && c->keepalive < ka)
			ka = c->keepalive;
		n->keepalive = (uint16_t)ka;
	}

	n->rrefresh = (c->caps_offer & BGP_CAPF_RREFRESH) &&
	    (o->caps & (BGP_CAPF_RREFRESH | BGP_CAPF_RREFRESH_OLD));
	n->enh_rrefresh = n->rrefresh && (c->caps_offer & BGP_CAPF_ERR) &&
	    (o->caps & BGP_CAPF_ERR);
	n->gr = (c->caps_offer & BGP_CAPF_GR) && (o->caps & BGP_CAPF_GR);
	if (n->gr) {
		n->gr_restart_flags = o->gr.restart_flags;
		n->gr_restart_time = o->gr.restart_time;
		for (af = 0; af < BGP_AF_MAX; af++) {
			n->gr_af[af] = o->gr.af[af] && n->sess.af[af];
			n->gr_af_flags[af] = n->gr_af[af] ? o->gr.af_flags[af] : 0;
		}
	}
	return 0;
}
