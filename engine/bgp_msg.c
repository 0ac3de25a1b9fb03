/*
 * bgp_msg.c — the codec's small messages: header check (RFC 4271 §4.1, §6.1),
 * OPEN with capabilities (RFC 4271 §4.2, RFC 5492, RFC 9072), KEEPALIVE,
 * NOTIFICATION (RFC 4271 §4.5, RFC 8203), ROUTE-REFRESH (RFC 2918, RFC 7313),
 * and the names used in logs.
 *
 * Pure functions, callable from any thread; they keep no state.
 */
#include <stdio.h>
#include <string.h>

#include "routehub/bgp.h"
#include "bgp_wire.h"

int
bgp_af_from_afi(uint16_t afi, uint8_t safi)
{
	if (safi != BGP_SAFI_UNICAST)
		return -1;
	if (afi == BGP_AFI_IPV4)
		return BGP_AF_IPV4;
	if (afi == BGP_AFI_IPV6)
		return BGP_AF_IPV6;
	return -1;
}

uint16_t
bgp_af_afi(enum bgp_af af)
{
	return af == BGP_AF_IPV6 ? BGP_AFI_IPV6 : BGP_AFI_IPV4;
}

void
bgp_sess_init(struct bgp_sess *s)
{
	memset(s, 0, sizeof(*s));
	s->af[BGP_AF_IPV4] = 1;
}

static void
err_set(struct bgp_error *err, uint8_t code, uint8_t subcode, const char *reason)
{
	err->code = code;
	err->subcode = subcode;
	err->data = NULL;
	err->data_len = 0;
	err->reason = reason;
}

/* Data carried in err->buf (copied so that it outlives the input). */
static void
err_data16(struct bgp_error *err, uint16_t v)
{
	put16(err->buf, v);
	err->data = err->buf;
	err->data_len = 2;
}

int
bgp_hdr_check(const uint8_t *buf, size_t len, size_t max_len, uint8_t *type, uint16_t *msglen,
              struct bgp_error *err)
{
	static const uint8_t marker[BGP_MARKER_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint16_t l;
	uint8_t t;

	if (len < BGP_HDR_LEN) {
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "message shorter than header");
		err_data16(err, (uint16_t)len);
		return -1;
	}
	/* RFC 4271 §6.1: marker not all ones -> Connection Not Synchronized. */
	if (memcmp(buf, marker, BGP_MARKER_LEN) != 0) {
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_SYNC, "marker is not all ones");
		return -1;
	}
	l = get16(buf + 16);
	t = buf[18];
	if (l < BGP_HDR_LEN || l > max_len) {
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "message length out of range");
		err_data16(err, l);
		return -1;
	}
	switch (t) {
	case BGP_MSG_OPEN:
		/* RFC 8654 §4: OPEN never exceeds 4096 octets. */
		if (l < BGP_OPEN_MIN_LEN || l > BGP_MAX_MSG)
			goto badlen;
		break;
	case BGP_MSG_UPDATE:
		if (l < BGP_UPDATE_MIN_LEN)
			goto badlen;
		break;
	case BGP_MSG_NOTIFICATION:
		if (l < BGP_NOTIFY_MIN_LEN)
			goto badlen;
		break;
	case BGP_MSG_KEEPALIVE:
		if (l != BGP_KEEPALIVE_LEN)
			goto badlen;
		break;
	case BGP_MSG_ROUTE_REFRESH:
		/* Exact length is checked by bgp_rrefresh_decode: RFC 7313 §5
		 * answers a bad BoRR/EoRR length with its own error code. */
		if (l < BGP_RREFRESH_LEN)
			goto badlen;
		break;
	default:
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_TYPE, "unknown message type");
		err->buf[0] = t;
		err->data = err->buf;
		err->data_len = 1;
		return -1;
	}
	*type = t;
	*msglen = l;
	return 0;
badlen:
	err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "bad length for message type");
	err_data16(err, l);
	return -1;
}

/* ---- OPEN --------------------------------------------------------------------- */

static void
open_unknown(struct bgp_open *o, uint8_t code, uint8_t len, uint16_t afi, uint8_t safi)
{
	if (o->n_unknown >= BGP_OPEN_MAX_UNKNOWN_CAPS)
		return;
	o->unknown[o->n_unknown].code = code;
	o->unknown[o->n_unknown].len = len;
	o->unknown[o->n_unknown].afi = afi;
	o->unknown[o->n_unknown].safi = safi;
	o->n_unknown++;
}

/* One capability (RFC 5492 §4). Returns 0, or -1 with err set. */
static int
open_cap(struct bgp_open *o, uint8_t code, const uint8_t *v, uint8_t len, struct bgp_error *err)
{
	int af;
	size_t i;

	switch (code) {
	case BGP_CAP_MP: /* RFC 4760 §8 */
		if (len != 4)
			goto bad;
		af = bgp_af_from_afi(get16(v), v[3]);
		o->caps |= BGP_CAPF_MP;
		if (af < 0)
			open_unknown(o, code, len, get16(v), v[3]);
		else
			o->mp[af] = 1;
		break;
	case BGP_CAP_RREFRESH:
	case BGP_CAP_RREFRESH_OLD:
		if (len != 0)
			goto bad;
		o->caps |= code == BGP_CAP_RREFRESH ? BGP_CAPF_RREFRESH : BGP_CAPF_RREFRESH_OLD;
		break;
	case BGP_CAP_ERR: /* RFC 7313 §3 */
		if (len != 0)
			goto bad;
		o->caps |= BGP_CAPF_ERR;
		break;
	case BGP_CAP_EXTMSG: /* RFC 8654 §3 */
		if (len != 0)
			goto bad;
		o->caps |= BGP_CAPF_EXTMSG;
		break;
	case BGP_CAP_AS4: /* RFC 6793 §3 */
		if (len != 4)
			goto bad;
		o->caps |= BGP_CAPF_AS4;
		o->asn = get32(v);
		if (o->asn == 0) { /* RFC 7607 §2 */
			err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_PEER_AS, "4-octet AS capability carries AS 0");
			return -1;
		}
		break;
	case BGP_CAP_ADDPATH: /* RFC 7911 §4 */
		if (len == 0 || len % 4 != 0)
			goto bad;
		o->caps |= BGP_CAPF_ADDPATH;
		for (i = 0; i < len; i += 4) {
			uint8_t sr = v[i + 3];
			if (sr < 1 || sr > 3)
				goto bad;
			af = bgp_af_from_afi(get16(v + i), v[i + 2]);
			if (af < 0)
				open_unknown(o, code, len, get16(v + i), v[i + 2]);
			else
				o->addpath[af] = sr;
		}
		break;
	case BGP_CAP_GR: /* RFC 4724 §3 */
		if (len < 2 || (len - 2) % 4 != 0)
			goto bad;
		o->caps |= BGP_CAPF_GR;
		o->gr.restart_flags = v[0] & 0xf0;
		o->gr.restart_time = get16(v) & 0x0fff;
		for (i = 2; i < len; i += 4) {
			af = bgp_af_from_afi(get16(v + i), v[i + 2]);
			if (af >= 0) {
				o->gr.af[af] = 1;
				o->gr.af_flags[af] = v[i + 3];
			}
		}
		break;
	case BGP_CAP_FQDN: { /* draft-walton-bgp-hostname-capability §3 */
		uint8_t hl, dl;
		if (len < 1)
			goto bad;
		hl = v[0];
		if ((size_t)hl + 1 > len)
			goto bad;
		memcpy(o->fqdn_host, v + 1, hl);
		o->fqdn_host[hl] = '\0';
		dl = 0;
		if ((size_t)hl + 1 < len) {
			dl = v[hl + 1];
			if ((size_t)hl + 2 + dl > len)
				goto bad;
			memcpy(o->fqdn_domain, v + hl + 2, dl);
		}
		o->fqdn_domain[dl] = '\0';
		o->caps |= BGP_CAPF_FQDN;
		break;
	}
	default:
		open_unknown(o, code, len, 0, 0);
		break;
	}
	return 0;
bad:
	/* RFC 4271 §6.2: a recognised but malformed optional parameter gets the
	 * unspecific subcode. */
	err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_UNSPEC, "malformed capability");
	return -1;
}

int
bgp_open_decode(const uint8_t *buf, size_t len, struct bgp_open *o, struct bgp_error *err)
{
	const uint8_t *p, *end;
	size_t optlen;
	int ext = 0;

	memset(o, 0, sizeof(*o));
	if (len < BGP_OPEN_MIN_LEN) {
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "OPEN too short");
		err_data16(err, (uint16_t)len);
		return -1;
	}
	p = buf + BGP_HDR_LEN;
	end = buf + len;
	o->version = p[0];
	o->my_as = get16(p + 1);
	o->asn = o->my_as;
	o->hold_time = get16(p + 3);
	o->bgp_id = get32(p + 5);
	optlen = p[9];
	p += 10;

	/* RFC 4271 §6.2, in the order the RFC lists the checks. */
	if (o->version != BGP_VERSION) {
		err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_VERSION, "unsupported BGP version");
		err_data16(err, BGP_VERSION); /* largest version we support */
		return -1;
	}
	/* RFC 9072 §2: Non-Ext OP Len 255 and Non-Ext OP Type 255 announce the
	 * extended format with 2-octet lengths. */
	if (optlen == 255 && p < end && p[0] == 255) {
		if (end - p < 3) {
			err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_UNSPEC, "truncated extended parameters");
			return -1;
		}
		optlen = get16(p + 1);
		p += 3;
		ext = 1;
	}
	if ((size_t)(end - p) != optlen) {
		err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_UNSPEC,
		        "optional parameters length does not match message length");
		return -1;
	}
	while (p < end) {
		uint8_t ptype;
		size_t plen, hl = ext ? 3 : 2;
		const uint8_t *c, *cend;

		if ((size_t)(end - p) < hl)
			goto badparam;
		ptype = p[0];
		plen = ext ? get16(p + 1) : p[1];
		p += hl;
		if ((size_t)(end - p) < plen)
			goto badparam;
		if (ptype != 2) { /* RFC 5492 §4: only Capabilities are defined */
			err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_OPTPARAM, "unsupported optional parameter");
			return -1;
		}
		c = p;
		cend = p + plen;
		while (c < cend) {
			uint8_t code, clen;
			if (cend - c < 2)
				goto badparam;
			code = c[0];
			clen = c[1];
			if (cend - c - 2 < clen)
				goto badparam;
			if (open_cap(o, code, c + 2, clen, err) < 0)
				return -1;
			c += 2 + clen;
		}
		p = cend;
	}
	/* RFC 7607 §2: AS 0 in OPEN -> Bad Peer AS. */
	if (o->my_as == 0) {
		err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_PEER_AS, "My Autonomous System is 0");
		return -1;
	}
	/* RFC 4271 §6.2: hold time 1 or 2 is unacceptable. */
	if (o->hold_time == 1 || o->hold_time == 2) {
		err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_HOLDTIME, "hold time 1 or 2 seconds");
		return -1;
	}
	/* RFC 6286 §2.2: the identifier is a non-zero 4-octet number. */
	if (o->bgp_id == 0) {
		err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_BGPID, "BGP identifier is 0");
		return -1;
	}
	return 0;
badparam:
	err_set(err, BGP_ERR_OPEN, BGP_ERR_OPEN_UNSPEC, "malformed optional parameter");
	return -1;
}

/* Append one capability; returns new length or 0 if out of room. */
static size_t
cap_put(uint8_t *c, size_t n, size_t cap, uint8_t code, const uint8_t *v, uint8_t len)
{
	if (n + 2 + len > cap)
		return 0;
	c[n] = code;
	c[n + 1] = len;
	if (len)
		memcpy(c + n + 2, v, len);
	return n + 2 + len;
}

int
bgp_open_encode(const struct bgp_open *o, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t caps[1024], v[256];
	size_t n = 0, total, i, vl;
	int af;

#define CAP(code, val, l)                                                                  \
	do {                                                                               \
		n = cap_put(caps, n, sizeof(caps), (code), (val), (uint8_t)(l));           \
		if (n == 0)                                                                \
			return -1;                                                         \
	} while (0)

	for (af = 0; af < BGP_AF_MAX; af++) {
		if (!o->mp[af])
			continue;
		put16(v, bgp_af_afi(af));
		v[2] = 0;
		v[3] = BGP_SAFI_UNICAST;
		CAP(BGP_CAP_MP, v, 4);
	}
	if (o->caps & BGP_CAPF_RREFRESH)
		CAP(BGP_CAP_RREFRESH, NULL, 0);
	if (o->caps & BGP_CAPF_ERR)
		CAP(BGP_CAP_ERR, NULL, 0);
	if (o->caps & BGP_CAPF_EXTMSG)
		CAP(BGP_CAP_EXTMSG, NULL, 0);
	if (o->caps & BGP_CAPF_AS4) {
		put32(v, o->asn);
		CAP(BGP_CAP_AS4, v, 4);
	}
	if (o->caps & BGP_CAPF_ADDPATH) {
		vl = 0;
		for (af = 0; af < BGP_AF_MAX; af++) {
			if (!o->addpath[af])
				continue;
			put16(v + vl, bgp_af_afi(af));
			v[vl + 2] = BGP_SAFI_UNICAST;
			v[vl + 3] = o->addpath[af];
			vl += 4;
		}
		if (vl)
			CAP(BGP_CAP_ADDPATH, v, vl);
	}
	if (o->caps & BGP_CAPF_GR) {
		put16(v, (uint16_t)((o->gr.restart_flags & 0xf0) << 8 | (o->gr.restart_time & 0x0fff)));
		vl = 2;
		for (af = 0; af < BGP_AF_MAX; af++) {
			if (!o->gr.af[af])
				continue;
			put16(v + vl, bgp_af_afi(af));
			v[vl + 2] = BGP_SAFI_UNICAST;
			v[vl + 3] = o->gr.af_flags[af];
			vl += 4;
		}
		CAP(BGP_CAP_GR, v, vl);
	}
	if (o->caps & BGP_CAPF_FQDN) {
		size_t hl = strnlen(o->fqdn_host, 64), dl = strnlen(o->fqdn_domain, 64);
		v[0] = (uint8_t)hl;
		memcpy(v + 1, o->fqdn_host, hl);
		v[1 + hl] = (uint8_t)dl;
		memcpy(v + 2 + hl, o->fqdn_domain, dl);
		CAP(BGP_CAP_FQDN, v, 2 + hl + dl);
	}
	if (o->caps & BGP_CAPF_RREFRESH_OLD)
		CAP(BGP_CAP_RREFRESH_OLD, NULL, 0);
#undef CAP

	/* One Capabilities parameter; RFC 9072 extended format if it exceeds 255. */
	if (n <= 255)
		total = BGP_OPEN_MIN_LEN + (n ? 2 + n : 0);
	else
		total = BGP_OPEN_MIN_LEN + 3 + 3 + n;
	if (total > cap || total > BGP_MAX_MSG)
		return -1;
	bgp_put_header(out, (uint16_t)total, BGP_MSG_OPEN);
	out[19] = BGP_VERSION;
	put16(out + 20, o->asn > 0xffff ? BGP_AS_TRANS : (uint16_t)o->asn);
	put16(out + 22, o->hold_time);
	put32(out + 24, o->bgp_id);
	i = 29;
	if (n == 0) {
		out[28] = 0;
	} else if (n <= 255) {
		out[28] = (uint8_t)(n + 2);
		out[i++] = 2;
		out[i++] = (uint8_t)n;
	} else {
		out[28] = 255;
		out[i++] = 255;
		put16(out + i, (uint16_t)(n + 3));
		i += 2;
		out[i++] = 2;
		put16(out + i, (uint16_t)n);
		i += 2;
	}
	memcpy(out + i, caps, n);
	*len = total;
	return 0;
}

int
bgp_keepalive_encode(uint8_t *out, size_t cap, size_t *len)
{
	if (cap < BGP_KEEPALIVE_LEN)
		return -1;
	bgp_put_header(out, BGP_KEEPALIVE_LEN, BGP_MSG_KEEPALIVE);
	*len = BGP_KEEPALIVE_LEN;
	return 0;
}

/* ---- NOTIFICATION --------------------------------------------------------------- */

int
bgp_notify_decode(const uint8_t *buf, size_t len, struct bgp_notify *n, struct bgp_error *err)
{
	memset(n, 0, sizeof(*n));
	if (len < BGP_NOTIFY_MIN_LEN) {
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "NOTIFICATION too short");
		err_data16(err, (uint16_t)len);
		return -1;
	}
	n->code = buf[19];
	n->subcode = buf[20];
	n->data = buf + 21;
	n->data_len = (uint16_t)(len - 21);
	/* RFC 8203 §2 / RFC 9003 §2: Cease/Administrative Shutdown or Reset
	 * carries a length octet and that many octets of UTF-8. */
	if (n->code == BGP_ERR_CEASE &&
	    (n->subcode == BGP_ERR_CEASE_ADMIN_SHUTDOWN || n->subcode == BGP_ERR_CEASE_ADMIN_RESET) &&
	    n->data_len >= 1) {
		uint8_t l = n->data[0];
		if ((size_t)l + 1 <= n->data_len) {
			size_t i;
			memcpy(n->shutdown_msg, n->data + 1, l);
			n->shutdown_msg[l] = '\0';
			/* Make it safe to log: no control characters. */
			for (i = 0; i < l; i++)
				if ((uint8_t)n->shutdown_msg[i] < 0x20 || n->shutdown_msg[i] == 0x7f)
					n->shutdown_msg[i] = '?';
		}
	}
	return 0;
}

int
bgp_notify_encode(uint8_t code, uint8_t subcode, const uint8_t *data, size_t data_len,
                  uint8_t *out, size_t cap, size_t *len)
{
	size_t total = BGP_NOTIFY_MIN_LEN + data_len;

	if (total > cap || total > BGP_MAX_MSG)
		return -1;
	bgp_put_header(out, (uint16_t)total, BGP_MSG_NOTIFICATION);
	out[19] = code;
	out[20] = subcode;
	if (data_len)
		memcpy(out + 21, data, data_len);
	*len = total;
	return 0;
}

int
bgp_notify_encode_shutdown(uint8_t subcode, const char *msg, uint8_t *out, size_t cap,
                           size_t *len)
{
	uint8_t data[256];
	size_t l = msg ? strlen(msg) : 0;

	if (l > 255) {
		l = 255;
		/* Do not cut a UTF-8 sequence: back up over continuation bytes. */
		while (l > 0 && ((uint8_t)msg[l] & 0xc0) == 0x80)
			l--;
	}
	data[0] = (uint8_t)l;
	if (l)
		memcpy(data + 1, msg, l);
	return bgp_notify_encode(BGP_ERR_CEASE, subcode, data, l + 1, out, cap, len);
}

/* ---- ROUTE-REFRESH ---------------------------------------------------------------- */

int
bgp_rrefresh_decode(const uint8_t *buf, size_t len, struct bgp_rrefresh *r, struct bgp_error *err)
{
	if (len < BGP_RREFRESH_LEN) {
		err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "ROUTE-REFRESH too short");
		err_data16(err, (uint16_t)len);
		return -1;
	}
	r->afi = get16(buf + 19);
	r->subtype = buf[21];
	r->safi = buf[22];
	if (len != BGP_RREFRESH_LEN) {
		if (r->subtype == BGP_RR_BORR || r->subtype == BGP_RR_EORR) {
			/* RFC 7313 §5: data is the complete ROUTE-REFRESH message. */
			err_set(err, BGP_ERR_RREFRESH, BGP_ERR_RR_LENGTH,
			        "BoRR/EoRR with invalid message length");
			err->data = buf;
			err->data_len = (uint16_t)len;
		} else {
			/* RFC 2918 §3 defines a fixed length: a header error. */
			err_set(err, BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "ROUTE-REFRESH length is not 23");
			err_data16(err, (uint16_t)len);
		}
		return -1;
	}
	return 0;
}

int
bgp_rrefresh_encode(const struct bgp_rrefresh *r, uint8_t *out, size_t cap, size_t *len)
{
	if (cap < BGP_RREFRESH_LEN)
		return -1;
	bgp_put_header(out, BGP_RREFRESH_LEN, BGP_MSG_ROUTE_REFRESH);
	put16(out + 19, r->afi);
	out[21] = r->subtype;
	out[22] = r->safi;
	*len = BGP_RREFRESH_LEN;
	return 0;
}

/* ---- names -------------------------------------------------------------------------- */

const char *
bgp_msg_type_name(uint8_t type)
{
	switch (type) {
	case BGP_MSG_OPEN:
		return "OPEN";
	case BGP_MSG_UPDATE:
		return "UPDATE";
	case BGP_MSG_NOTIFICATION:
		return "NOTIFICATION";
	case BGP_MSG_KEEPALIVE:
		return "KEEPALIVE";
	case BGP_MSG_ROUTE_REFRESH:
		return "ROUTE-REFRESH";
	}
	return "unknown";
}

const char *
bgp_err_name(uint8_t code, uint8_t subcode)
{
	static const char *hdr[] = {"Message Header Error", "Connection Not Synchronized",
	                            "Bad Message Length", "Bad Message Type"};
	static const char *open[] = {"OPEN Message Error",       "Unsupported Version Number",
	                             "Bad Peer AS",              "Bad BGP Identifier",
	                             "Unsupported Optional Parameter", "Authentication Failure",
	                             "Unacceptable Hold Time",   "Unsupported Capability"};
	static const char *upd[] = {"UPDATE Message Error",
	                            "Malformed Attribute List",
	                            "Unrecognized Well-known Attribute",
	                            "Missing Well-known Attribute",
	                            "Attribute Flags Error",
	                            "Attribute Length Error",
	                            "Invalid ORIGIN Attribute",
	                            "AS Routing Loop",
	                            "Invalid NEXT_HOP Attribute",
	                            "Optional Attribute Error",
	                            "Invalid Network Field",
	                            "Malformed AS_PATH"};
	static const char *fsm[] = {"Finite State Machine Error",
	                            "Receive Unexpected Message in OpenSent State",
	                            "Receive Unexpected Message in OpenConfirm State",
	                            "Receive Unexpected Message in Established State"};
	static const char *cease[] = {"Cease",
	                              "Maximum Number of Prefixes Reached",
	                              "Administrative Shutdown",
	                              "Peer De-configured",
	                              "Administrative Reset",
	                              "Connection Rejected",
	                              "Other Configuration Change",
	                              "Connection Collision Resolution",
	                              "Out of Resources",
	                              "Hard Reset"};
#define PICK(tab) (subcode < sizeof(tab) / sizeof(tab[0]) ? tab[subcode] : tab[0])
	switch (code) {
	case BGP_ERR_HEADER:
		return PICK(hdr);
	case BGP_ERR_OPEN:
		return PICK(open);
	case BGP_ERR_UPDATE:
		return PICK(upd);
	case BGP_ERR_HOLD:
		return "Hold Timer Expired";
	case BGP_ERR_FSM:
		return PICK(fsm);
	case BGP_ERR_CEASE:
		return PICK(cease);
	case BGP_ERR_RREFRESH:
		return subcode == BGP_ERR_RR_LENGTH ? "ROUTE-REFRESH Invalid Message Length"
		                                    : "ROUTE-REFRESH Message Error";
	}
#undef PICK
	return "Unknown Error";
}

const char *
bgp_action_name(enum bgp_action a)
{
	switch (a) {
	case BGP_ACT_OK:
		return "ok";
	case BGP_ACT_DISCARD:
		return "attribute-discard";
	case BGP_ACT_WITHDRAW:
		return "treat-as-withdraw";
	case BGP_ACT_RESET:
		return "session-reset";
	}
	return "unknown";
}
