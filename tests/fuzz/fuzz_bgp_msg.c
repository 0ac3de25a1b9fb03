/*
 * fuzz_bgp_msg.c — libFuzzer target for the BGP message codec.
 *
 * Input: one selector octet, then a BGP message (header included). The
 * selector picks the session parameters (4-octet AS, iBGP, extended
 * messages, IPv6, ADD-PATH per family). The header is checked; the message is
 * then decoded as its type says. For a decoded UPDATE every NLRI run is
 * iterated to its end and must yield exactly .count prefixes; an update
 * that is usable (OK or DISCARD) is canonicalised, re-encoded from the
 * canonical form and decoded again, and the two canonical forms must be equal
 * (round-trip property). OPENs are re-encoded and re-decoded too.
 *
 * The message is copied to a buffer of exactly its length so that ASan sees
 * any read past it. Property violations abort with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <routehub/bgp.h>

#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "fuzz_bgp_msg: %s: ", #cond);            \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			abort();                                                 \
		}                                                                \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 20000
static struct bgp_prefix runs[4][MAXP];
static uint8_t canon1[BGP_CANON_MAX], canon2[BGP_CANON_MAX];
static uint8_t enc[BGP_MAX_EXT_MSG];

static size_t
walk(const struct bgp_nlri *n, struct bgp_prefix *out)
{
	size_t pos = 0, k = 0, last = 0;
	struct bgp_prefix p;

	while (bgp_nlri_next(n, &pos, &p) == 1) {
		CHECK(k < n->count, "more prefixes than count %u", n->count);
		CHECK(pos > last && pos <= n->len, "position %zu does not advance in %u", pos, n->len);
		CHECK(p.af == n->af, "prefix family %u in a run of %u", p.af, n->af);
		CHECK(p.len <= (p.af == BGP_AF_IPV4 ? 32 : 128), "prefix length %u", p.len);
		/* bgp.h: host bits beyond len are zero */
		for (unsigned b = p.len; b < 128; b++)
			CHECK(!(p.addr[b / 8] & (0x80 >> (b % 8))), "host bit %u set", b);
		last = pos;
		out[k++] = p;
	}
	CHECK(k == n->count, "%zu prefixes iterated, count %u", k, n->count);
	return k;
}

static void
fuzz_update(const uint8_t *m, size_t len, const struct bgp_sess *s)
{
	static struct bgp_update u, u2;
	size_t n[4], clen1, clen2, elen;

	if (bgp_update_decode(m, len, s, &u) != 0) {
		CHECK(u.action == BGP_ACT_RESET, "rc -1 with action %d", u.action);
		CHECK(u.err.code == BGP_ERR_UPDATE || u.err.code == BGP_ERR_HEADER,
		      "reset with code %u", u.err.code);
		CHECK(u.err.data_len == 0 || u.err.data != NULL, "data_len without data");
		return;
	}
	CHECK(u.action != BGP_ACT_RESET, "rc 0 with a reset");
	n[0] = walk(&u.withdrawn, runs[0]);
	n[1] = walk(&u.nlri, runs[1]);
	n[2] = walk(&u.mp_unreach, runs[2]);
	n[3] = walk(&u.mp_reach, runs[3]);
	if (u.action == BGP_ACT_WITHDRAW)
		return;
	if (bgp_attrs_canon(&u, canon1, sizeof(canon1), &clen1) != 0)
		CHECK(0, "canon failed with a %zu-octet buffer", sizeof(canon1));
	/* canonical form walks cleanly, in type order */
	{
		struct bgp_attr_iter it = { .p = canon1, .len = clen1, .pos = 0 };
		struct bgp_attr a;
		int r, last = -1;
		while ((r = bgp_attr_next(&it, &a)) == 1) {
			CHECK(a.type > last, "canonical attribute %u after %d", a.type, last);
			last = a.type;
		}
		CHECK(r == 0, "canonical form does not parse");
	}

	struct bgp_sess es = *s;
	es.ext_msg = true; /* the canonical form may be wider than the input */
	bool announce = n[1] || n[3];
	struct bgp_update_spec spec = {
		.withdrawn = runs[0], .n_withdrawn = n[0], .nlri = runs[1], .n_nlri = n[1],
		.mp_unreach = runs[2], .n_mp_unreach = n[2],
		.mp_unreach_af = n[2] ? u.mp_unreach.af : -1,
		.mp_reach = runs[3], .n_mp_reach = n[3],
		.attrs = announce ? canon1 : NULL, .attrs_len = announce ? clen1 : 0,
	};
	/* MP_REACH needs its next hop in the canonical form */
	if (n[3] && bgp_attr_find(canon1, clen1, BGP_ATTR_MP_REACH_NLRI, &(struct bgp_attr){ 0 }) != 0)
		return;
	if (bgp_update_encode(&spec, &es, enc, sizeof(enc), &elen) != 0)
		return; /* too big for one message: allowed */
	if (bgp_update_decode(enc, elen, &es, &u2) != 0 || u2.action != BGP_ACT_OK) {
		/* The canonical form of an update with missing mandatory attributes
		 * but no announcement is re-encoded without attributes; any other
		 * outcome is a bug. */
		CHECK(0, "re-decode: action %s (%s)", bgp_action_name(u2.action),
		      u2.err.reason ? u2.err.reason : "");
	}
	CHECK(bgp_update_nprefixes(&u2) == n[0] + n[1] + n[2] + n[3], "prefix count changed");
	if (!announce)
		return;
	CHECK(bgp_attrs_canon(&u2, canon2, sizeof(canon2), &clen2) == 0, "second canon failed");
	CHECK(clen1 == clen2 && memcmp(canon1, canon2, clen1) == 0,
	      "canonical attributes differ after re-encoding (%zu vs %zu octets)", clen1, clen2);
}

static void
fuzz_open(const uint8_t *m, size_t len)
{
	static struct bgp_open o, o2;
	struct bgp_error err;
	uint8_t out[BGP_MAX_MSG];
	size_t n;

	memset(&o, 0, sizeof(o));
	if (bgp_open_decode(m, len, &o, &err) != 0) {
		CHECK(err.code == BGP_ERR_OPEN || err.code == BGP_ERR_HEADER, "OPEN error code %u",
		      err.code);
		return;
	}
	if (bgp_open_encode(&o, out, sizeof(out), &n) != 0)
		return;
	memset(&o2, 0, sizeof(o2));
	CHECK(bgp_open_decode(out, n, &o2, &err) == 0, "re-decode of our OPEN: %s", err.reason);
	CHECK(o2.asn == o.asn && o2.hold_time == o.hold_time && o2.bgp_id == o.bgp_id,
	      "OPEN fixed fields changed");
	/* My AS is derived from the AS (AS_TRANS when not mappable, RFC 6793
	 * §4.1); a peer's inconsistent My AS is not reproduced. */
	if (o.my_as == (o.asn > 0xffff ? BGP_AS_TRANS : o.asn))
		CHECK(o2.my_as == o.my_as, "My AS %u became %u", o.my_as, o2.my_as);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bgp_sess s;
	struct bgp_error err;
	uint8_t type, sel;
	uint16_t mlen;
	uint8_t *m;

	if (size < 1 + BGP_HDR_LEN)
		return 0;
	sel = data[0];
	data++;
	size--;
	bgp_sess_init(&s);
	s.as4 = sel & 1;
	s.ibgp = sel & 2;
	s.ext_msg = sel & 4;
	s.af[BGP_AF_IPV4] = 1;
	s.af[BGP_AF_IPV6] = !(sel & 8);
	s.addpath_rx[BGP_AF_IPV4] = s.addpath_tx[BGP_AF_IPV4] = !!(sel & 16);
	s.addpath_rx[BGP_AF_IPV6] = s.addpath_tx[BGP_AF_IPV6] = !!(sel & 32);

	if (bgp_hdr_check(data, size, bgp_sess_max_msg(&s), &type, &mlen, &err) != 0) {
		CHECK(err.code == BGP_ERR_HEADER, "header error code %u", err.code);
		return 0;
	}
	if (mlen > size)
		return 0;
	m = malloc(mlen);
	memcpy(m, data, mlen);
	switch (type) {
	case BGP_MSG_OPEN:
		fuzz_open(m, mlen);
		break;
	case BGP_MSG_UPDATE:
		fuzz_update(m, mlen, &s);
		break;
	case BGP_MSG_NOTIFICATION: {
		struct bgp_notify nt;
		if (bgp_notify_decode(m, mlen, &nt, &err) == 0) {
			CHECK(nt.data_len == mlen - 21u, "NOTIFICATION data length");
			CHECK(memchr(nt.shutdown_msg, '\0', sizeof(nt.shutdown_msg)) != NULL,
			      "shutdown message not terminated");
		}
		break;
	}
	case BGP_MSG_ROUTE_REFRESH: {
		struct bgp_rrefresh r;
		uint8_t out[64];
		size_t n;
		if (bgp_rrefresh_decode(m, mlen, &r, &err) == 0) {
			CHECK(bgp_rrefresh_encode(&r, out, sizeof(out), &n) == 0 && n == mlen &&
			              memcmp(out, m, n) == 0,
			      "ROUTE-REFRESH does not re-encode to itself");
		}
		break;
	}
	case BGP_MSG_KEEPALIVE:
		CHECK(mlen == BGP_KEEPALIVE_LEN, "KEEPALIVE of %u octets accepted", mlen);
		break;
	default:
		CHECK(0, "header check accepted type %u", type);
	}
	free(m);
	return 0;
}
