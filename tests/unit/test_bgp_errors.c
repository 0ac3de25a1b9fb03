/*
 * test_bgp_errors.c — every error outcome the codec can produce, from
 * hand-assembled messages: RFC 4271 §6.1 header errors, §6.2 OPEN errors
 * (with RFC 7607 and RFC 9072), and the UPDATE outcomes of RFC 7606 (session
 * reset, treat-as-withdraw, attribute discard), plus End-of-RIB (RFC 4724 §2).
 *
 * Expected values come from the RFCs, cited per case; the NLRI a
 * treat-as-withdraw update must still yield is checked against a small
 * reference decoder in this file, not against the codec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "bgp_testutil.h"

static struct tu_buf msg;
static int nfail; /* failed expectations in the running table test */

/* Report and count a failed expectation, then go on: one run shows every
 * failing case of a table, not only the first. */
#define FAILF(...)                                                               \
	do {                                                                     \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                           \
		fputc('\n', stderr);                                             \
		nfail++;                                                         \
	} while (0)
#define EXPECT(what, cond)                                                       \
	do {                                                                     \
		if (!(cond))                                                     \
			FAILF("%s: expected %s", what, #cond);                   \
	} while (0)

/* ---- helpers ---------------------------------------------------------------------- */
#define ANY 0xff /* "do not check" for a code or subcode */

static void
check_data(const char *what, const struct bgp_error *err, const char *data_hex)
{
	uint8_t want[64];
	size_t n;

	if (data_hex == NULL)
		return;
	n = tu_hex(data_hex, want, sizeof(want));
	if (err->data_len != n || (n > 0 && (err->data == NULL || memcmp(err->data, want, n) != 0))) {
		fprintf(stderr, "%s: NOTIFICATION data: want %s, got", what, data_hex);
		for (size_t i = 0; i < err->data_len && err->data != NULL; i++)
			fprintf(stderr, " %02x", err->data[i]);
		fputc('\n', stderr);
		FAILF("%s: wrong NOTIFICATION data", what);
	}
}

static void
check_err(const char *what, const struct bgp_error *err, uint8_t code, uint8_t sub,
          const char *data_hex)
{
	if ((code != ANY && err->code != code) || (sub != ANY && err->subcode != sub))
		FAILF("%s: NOTIFICATION %u/%u, want %u/%u (%s)", what, err->code, err->subcode,
		         code, sub, err->reason ? err->reason : "no reason");
	if (err->reason == NULL)
		FAILF("%s: error without a reason text", what);
	check_data(what, err, data_hex);
}

/* ---- RFC 4271 §6.1: message header errors --------------------------------------------- */
struct hdr_case {
	const char *what;
	bool bad_marker;
	unsigned len;
	uint8_t type;
	size_t max_len;
	bool ok;
	uint8_t code, sub;
	const char *data; /* NULL: not checked */
};

static const struct hdr_case hdr_cases[] = {
	{ .what = "KEEPALIVE of 19 octets", .len = 19, .type = 4, .max_len = 4096, .ok = true },
	{ .what = "OPEN of 29 octets", .len = 29, .type = 1, .max_len = 4096, .ok = true },
	{ .what = "UPDATE of 23 octets", .len = 23, .type = 2, .max_len = 4096, .ok = true },
	{ .what = "NOTIFICATION of 21 octets", .len = 21, .type = 3, .max_len = 4096, .ok = true },
	{ .what = "ROUTE-REFRESH of 23 octets", .len = 23, .type = 5, .max_len = 4096, .ok = true },
	{ .what = "UPDATE of 4096 octets", .len = 4096, .type = 2, .max_len = 4096, .ok = true },
	{ .what = "UPDATE of 4097 octets with extended messages (RFC 8654)", .len = 4097,
	  .type = 2, .max_len = 65535, .ok = true },
	{ .what = "UPDATE of 65535 octets with extended messages (RFC 8654)", .len = 65535,
	  .type = 2, .max_len = 65535, .ok = true },
	/* RFC 4271 §6.1: Connection Not Synchronized. */
	{ .what = "marker not all ones", .bad_marker = true, .len = 19, .type = 4,
	  .max_len = 4096, .code = 1, .sub = 1 },
	/* RFC 4271 §6.1: Bad Message Length, data = the erroneous Length field. */
	{ .what = "length 18 (< 19)", .len = 18, .type = 4, .max_len = 4096, .code = 1, .sub = 2,
	  .data = "0012" },
	{ .what = "length 0", .len = 0, .type = 2, .max_len = 4096, .code = 1, .sub = 2,
	  .data = "0000" },
	{ .what = "UPDATE of 4097 octets without extended messages", .len = 4097, .type = 2,
	  .max_len = 4096, .code = 1, .sub = 2, .data = "1001" },
	{ .what = "UPDATE of 65535 octets without extended messages", .len = 65535, .type = 2,
	  .max_len = 4096, .code = 1, .sub = 2, .data = "ffff" },
	/* RFC 8654 §4: extended messages do not apply to OPEN and KEEPALIVE. */
	{ .what = "OPEN of 4097 octets with extended messages (RFC 8654 §4)", .len = 4097,
	  .type = 1, .max_len = 65535, .code = 1, .sub = 2, .data = "1001" },
	{ .what = "KEEPALIVE of 20 octets", .len = 20, .type = 4, .max_len = 4096, .code = 1,
	  .sub = 2, .data = "0014" },
	{ .what = "OPEN of 28 octets", .len = 28, .type = 1, .max_len = 4096, .code = 1, .sub = 2,
	  .data = "001c" },
	{ .what = "UPDATE of 22 octets", .len = 22, .type = 2, .max_len = 4096, .code = 1,
	  .sub = 2, .data = "0016" },
	{ .what = "NOTIFICATION of 20 octets", .len = 20, .type = 3, .max_len = 4096, .code = 1,
	  .sub = 2, .data = "0014" },
	/* RFC 7313 §5: a long BoRR/EoRR gets its own error (7/1), so the exact
	 * ROUTE-REFRESH length is left to bgp_rrefresh_decode (see below). */
	{ .what = "ROUTE-REFRESH of 24 octets passes the header check", .len = 24, .type = 5,
	  .max_len = 4096, .ok = true },
	{ .what = "ROUTE-REFRESH of 22 octets", .len = 22, .type = 5, .max_len = 4096, .code = 1,
	  .sub = 2, .data = "0016" },
	/* RFC 4271 §6.1: Bad Message Type, data = the erroneous Type field. */
	{ .what = "type 0", .len = 19, .type = 0, .max_len = 4096, .code = 1, .sub = 3,
	  .data = "00" },
	{ .what = "type 6", .len = 19, .type = 6, .max_len = 4096, .code = 1, .sub = 3,
	  .data = "06" },
	{ .what = "type 255", .len = 19, .type = 255, .max_len = 4096, .code = 1, .sub = 3,
	  .data = "ff" },
};

static void
test_header(void **state)
{
	(void)state;
	nfail = 0;
	for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		uint8_t h[BGP_HDR_LEN];
		struct bgp_error err;
		uint8_t type = 0xee;
		uint16_t mlen = 0;

		memset(h, 0xff, BGP_MARKER_LEN);
		if (c->bad_marker)
			h[7] = 0xfe;
		h[16] = (uint8_t)(c->len >> 8);
		h[17] = (uint8_t)c->len;
		h[18] = c->type;
		memset(&err, 0, sizeof(err));
		int rc = bgp_hdr_check(h, sizeof(h), c->max_len, &type, &mlen, &err);
		if (c->ok) {
			if (rc != 0) {
				FAILF("%s: rejected with %u/%u (%s)", c->what, err.code, err.subcode,
				      err.reason ? err.reason : "");
				continue;
			}
			EXPECT(c->what, type == c->type);
			EXPECT(c->what, mlen == c->len);
		} else {
			if (rc != -1) {
				FAILF("%s: accepted", c->what);
				continue;
			}
			check_err(c->what, &err, c->code, c->sub, c->data);
		}
	}
	if (nfail)
		fail_msg("%d failed expectations", nfail);
}

/* ---- RFC 4271 §6.2: OPEN errors ------------------------------------------------------ */
/* Fields after the header: version, My AS, Hold Time, BGP Identifier, Opt Parm Len. */
#define OPEN_FIXED(ver, as, hold, id) ver " " as " " hold " " id
#define OPEN_OK OPEN_FIXED("04", "fde9", "00b4", "c0000201")
/* Capabilities optional parameter (RFC 5492 §4) */
#define CAP_AS4_65001 "41 04 0000fde9"
#define CAP_MP_V4 "01 04 0001 00 01"
#define CAP_MP_V6 "01 04 0002 00 01"

struct open_case {
	const char *what;
	const char *body; /* hex after the header */
	bool ok;
	uint8_t code, sub;
	const char *data;
	void (*check)(const char *what, const struct bgp_open *o);
};

static void
chk_open_basic(const char *what, const struct bgp_open *o)
{
	EXPECT(what, (o->version) == (4));
	EXPECT(what, (o->my_as) == (65001));
	EXPECT(what, (o->asn) == (65001));
	EXPECT(what, (o->hold_time) == (180));
	EXPECT(what, (o->bgp_id) == (0xc0000201u));
}

static void
chk_open_hold0(const char *what, const struct bgp_open *o)
{
	EXPECT(what, (o->hold_time) == (0));
}

static void
chk_open_hold3(const char *what, const struct bgp_open *o)
{
	EXPECT(what, (o->hold_time) == (3));
}

static void
chk_open_as4(const char *what, const struct bgp_open *o)
{
	EXPECT(what, o->caps & BGP_CAPF_AS4);
	EXPECT(what, o->caps & BGP_CAPF_MP);
	EXPECT(what, (o->my_as) == (BGP_AS_TRANS));
	EXPECT(what, (o->asn) == (4200000001u));
	EXPECT(what, o->mp[BGP_AF_IPV4]);
	EXPECT(what, o->mp[BGP_AF_IPV6]);
}

static void
chk_open_many(const char *what, const struct bgp_open *o)
{
	EXPECT(what, o->caps & BGP_CAPF_RREFRESH);
	EXPECT(what, o->caps & BGP_CAPF_RREFRESH_OLD);
	EXPECT(what, o->caps & BGP_CAPF_ERR);
	EXPECT(what, o->caps & BGP_CAPF_EXTMSG);
	EXPECT(what, o->caps & BGP_CAPF_ADDPATH);
	EXPECT(what, o->caps & BGP_CAPF_GR);
	EXPECT(what, o->caps & BGP_CAPF_FQDN);
	/* RFC 7911 §4: IPv4 unicast send/receive 3, IPv6 unicast receive 1 */
	EXPECT(what, (o->addpath[BGP_AF_IPV4]) == (BGP_ADDPATH_RECV | BGP_ADDPATH_SEND));
	EXPECT(what, (o->addpath[BGP_AF_IPV6]) == (BGP_ADDPATH_RECV));
	/* RFC 4724 §3: flags 0x8 (R), time 0x078 = 120, IPv4 unicast with F bit */
	EXPECT(what, (o->gr.restart_time) == (120));
	/* R bit: stored either as the nibble (0x8) or in place (0x80) */
	EXPECT(what, o->gr.restart_flags == 0x8 || o->gr.restart_flags == 0x80);
	EXPECT(what, o->gr.af[BGP_AF_IPV4]);
	EXPECT(what, o->gr.af_flags[BGP_AF_IPV4] != 0);
	EXPECT(what, !(o->gr.af[BGP_AF_IPV6]));
	EXPECT(what, strcmp(o->fqdn_host, "rtr1") == 0);
	EXPECT(what, strcmp(o->fqdn_domain, "example.net") == 0);
	/* the unknown capability 99 and the MP family 1/128 we do not route */
	bool seen99 = false, seen_vpn = false;
	for (unsigned i = 0; i < o->n_unknown; i++) {
		if (o->unknown[i].code == 99 && o->unknown[i].len == 2)
			seen99 = true;
		if (o->unknown[i].code == BGP_CAP_MP && o->unknown[i].afi == 1 &&
		    o->unknown[i].safi == 128)
			seen_vpn = true;
	}
	EXPECT(what, seen99);
	EXPECT(what, seen_vpn);
}

static void
chk_open_ext(const char *what, const struct bgp_open *o)
{
	EXPECT(what, o->caps & BGP_CAPF_AS4);
	EXPECT(what, (o->asn) == (65001));
	EXPECT(what, o->mp[BGP_AF_IPV4]);
}

static const struct open_case open_cases[] = {
	{ .what = "minimal OPEN", .body = OPEN_OK " 00", .ok = true, .check = chk_open_basic },
	{ .what = "OPEN with capabilities", .body = OPEN_OK " 0e 02 0c " CAP_MP_V4 " " CAP_AS4_65001,
	  .ok = true, .check = chk_open_basic },
	/* RFC 4271 §4.2: hold time 0 or at least 3 */
	{ .what = "hold time 0", .body = OPEN_FIXED("04", "fde9", "0000", "c0000201") " 00",
	  .ok = true, .check = chk_open_hold0 },
	{ .what = "hold time 3", .body = OPEN_FIXED("04", "fde9", "0003", "c0000201") " 00",
	  .ok = true, .check = chk_open_hold3 },
	{ .what = "4-octet AS in the AS4 capability (RFC 6793)",
	  .body = OPEN_FIXED("04", "5ba0", "00b4", "c0000201") " 14 02 12 " CAP_MP_V4
	          " " CAP_MP_V6 " 41 04 fa56ea01",
	  .ok = true, .check = chk_open_as4 },
	{ .what = "RR, old RR, enhanced RR, ext msg, ADD-PATH, GR, FQDN, unknown caps",
	  .body = OPEN_OK " 39 02 37"
	          " 02 00 80 00 46 00 06 00"
	          " 45 08 0001 01 03 0002 01 01"
	          " 40 06 8078 0001 01 80"
	          " 49 11 04 72747231 0b 6578616d706c652e6e6574"
	          " 63 02 abcd"
	          " 01 04 0001 00 80",
	  .ok = true, .check = chk_open_many },
	/* RFC 9072 §2: Non-Ext OP Len 255, Non-Ext OP Type 255, 2-octet Extended
	 * Opt. Parm. Length, then parameters with 2-octet lengths. */
	{ .what = "RFC 9072 extended optional parameters",
	  .body = OPEN_OK " ff ff 000f 02 000c " CAP_MP_V4 " " CAP_AS4_65001, .ok = true,
	  .check = chk_open_ext },
	{ .what = "RFC 9072 extended length past the message",
	  .body = OPEN_OK " ff ff 0020 02 000c " CAP_MP_V4 " " CAP_AS4_65001, .code = ANY,
	  .sub = ANY },
	{ .what = "RFC 9072 parameter length past the extended parameters",
	  .body = OPEN_OK " ff ff 000f 02 0010 " CAP_MP_V4 " " CAP_AS4_65001, .code = ANY,
	  .sub = ANY },
	/* RFC 4271 §6.2: Unsupported Version Number, data = largest supported
	 * version below the bid, or the smallest supported one (both 4). */
	{ .what = "version 3", .body = OPEN_FIXED("03", "fde9", "00b4", "c0000201") " 00",
	  .code = 2, .sub = 1, .data = "0004" },
	{ .what = "version 5", .body = OPEN_FIXED("05", "fde9", "00b4", "c0000201") " 00",
	  .code = 2, .sub = 1, .data = "0004" },
	/* RFC 7607 §2: AS 0 in My AS or in the AS4 capability is Bad Peer AS. */
	{ .what = "My AS 0 (RFC 7607)", .body = OPEN_FIXED("04", "0000", "00b4", "c0000201") " 00",
	  .code = 2, .sub = 2 },
	{ .what = "AS4 capability AS 0 (RFC 7607)",
	  .body = OPEN_FIXED("04", "5ba0", "00b4", "c0000201") " 08 02 06 41 04 00000000",
	  .code = 2, .sub = 2 },
	/* RFC 4271 §6.2: Bad BGP Identifier */
	{ .what = "BGP identifier 0", .body = OPEN_FIXED("04", "fde9", "00b4", "00000000") " 00",
	  .code = 2, .sub = 3 },
	/* RFC 4271 §6.2: Unacceptable Hold Time for 1 and 2 */
	{ .what = "hold time 1", .body = OPEN_FIXED("04", "fde9", "0001", "c0000201") " 00",
	  .code = 2, .sub = 6 },
	{ .what = "hold time 2", .body = OPEN_FIXED("04", "fde9", "0002", "c0000201") " 00",
	  .code = 2, .sub = 6 },
	/* RFC 4271 §6.2: Unsupported Optional Parameter (type 1, the deprecated
	 * authentication parameter) */
	{ .what = "optional parameter type 1", .body = OPEN_OK " 04 01 02 abcd", .code = 2,
	  .sub = 4 },
	{ .what = "optional parameter length past Opt Parm Len",
	  .body = OPEN_OK " 08 02 08 " CAP_AS4_65001, .code = ANY, .sub = ANY },
	{ .what = "Opt Parm Len past the message", .body = OPEN_OK " 10 02 06 " CAP_AS4_65001,
	  .code = ANY, .sub = ANY },
	{ .what = "octets after the optional parameters", .body = OPEN_OK " 00 abcd",
	  .code = ANY, .sub = ANY },
	{ .what = "capability length past its parameter",
	  .body = OPEN_OK " 08 02 06 41 08 0000fde9", .code = ANY, .sub = ANY },
	{ .what = "truncated capability header", .body = OPEN_OK " 03 02 01 41", .code = ANY,
	  .sub = ANY },
};

static void
test_open(void **state)
{
	(void)state;
	nfail = 0;
	for (size_t i = 0; i < sizeof(open_cases) / sizeof(open_cases[0]); i++) {
		const struct open_case *c = &open_cases[i];
		struct bgp_open o;
		struct bgp_error err;

		tu_msg_begin(&msg, BGP_MSG_OPEN);
		tu_puthex(&msg, c->body);
		tu_msg_end(&msg);
		memset(&o, 0, sizeof(o));
		memset(&err, 0, sizeof(err));
		int rc = bgp_open_decode(msg.b, msg.len, &o, &err);
		if (c->ok) {
			if (rc != 0) {
				FAILF("%s: rejected with %u/%u (%s)", c->what, err.code, err.subcode,
				      err.reason ? err.reason : "");
				continue;
			}
			if (c->check)
				c->check(c->what, &o);
		} else {
			if (rc != -1) {
				FAILF("%s: accepted", c->what);
				continue;
			}
			if (c->code == ANY && err.code != BGP_ERR_OPEN && err.code != BGP_ERR_HEADER)
				FAILF("%s: error code %u is neither OPEN nor header", c->what, err.code);
			check_err(c->what, &err, c->code, c->sub, c->data);
		}
	}
	if (nfail)
		fail_msg("%d failed expectations", nfail);
}

/* ---- UPDATE: RFC 7606 outcomes -------------------------------------------------------- */
/* Building blocks (RFC 4271 §4.3 attribute encoding: flags, type, length, value). */
#define ORIGIN_IGP "40 01 01 00 "
#define ORIGIN_EGP "40 01 01 01 "
#define AP2 "40 02 04 02 01 fde9 "        /* AS_SEQUENCE 65001, 2-octet */
#define AP4 "40 02 06 02 01 0000fde9 "    /* AS_SEQUENCE 65001, 4-octet */
#define NH "40 03 04 c0000201 "           /* 192.0.2.1 */
#define BASE2 ORIGIN_IGP AP2 NH
#define BASE4 ORIGIN_IGP AP4 NH
#define LP "40 05 04 00000064 "            /* LOCAL_PREF 100 */
#define NLRI1 "18 c63364"                /* 198.51.100.0/24 */
#define NLRI2 "18 c63364 10 0a01"        /* + 10.1.0.0/16 */
/* MP_REACH_NLRI IPv6 unicast, next hop 2001:db8::1, NLRI 2001:db8::/32 */
#define V6NH "20010db8000000000000000000000001"
#define MPR6 "80 0e 1a 0002 01 10 " V6NH " 00 20 20010db8 "
#define MPU6 "80 0f 08 0002 01 20 20010db8 "

enum { ACT_OK_OR_DISCARD = 100 };

struct upd_case {
	const char *what;
	bool as4, ibgp;
	const char *raw;  /* if set: the whole body after the header */
	const char *withdrawn, *attrs, *nlri;
	int action;       /* enum bgp_action, or ACT_OK_OR_DISCARD */
	uint8_t code, sub;
	const char *data;
	uint64_t present, absent; /* attribute mask bits required set / clear */
	unsigned min_discarded;
	int n_mp_reach;   /* -1: not checked */
	void (*check)(const char *what, const struct bgp_update *u);
};

#define BIT(t) (1ull << (t))

static void
chk_origin_igp(const char *what, const struct bgp_update *u)
{
	EXPECT(what, (u->attrs.origin) == (BGP_ORIGIN_IGP));
}

static void
chk_first_communities(const char *what, const struct bgp_update *u)
{
	static const uint8_t first[] = { 0xfd, 0xe9, 0x00, 0x01 };
	EXPECT(what, (u->attrs.communities.len) == (4));
	EXPECT(what, memcmp(u->attrs.communities.p, first, 4) == 0);
}

static void
chk_local_pref(const char *what, const struct bgp_update *u)
{
	EXPECT(what, (u->attrs.local_pref) == (300));
}

static void
chk_unknown99_kept(const char *what, const struct bgp_update *u)
{
	EXPECT(what, u->attrs.unknown[99 / 64] & (1ull << (99 % 64)));
}

static void
chk_unknown99_dropped(const char *what, const struct bgp_update *u)
{
	EXPECT(what, !(u->attrs.unknown[99 / 64] & (1ull << (99 % 64))));
}

static void
chk_trailing_bits(const char *what, const struct bgp_update *u)
{
	struct bgp_prefix p[2], want;
	/* RFC 4271 §4.3: trailing bits are irrelevant; bgp.h promises them zero.
	 * 11.13.0.0/13 on the wire is 11.8.0.0/13. */
	EXPECT(what, (tu_nlri_collect(&u->nlri, p, 2)) == (1));
	tu_prefix4(&want, 11, 8, 0, 0, 13);
	EXPECT(what, tu_prefix_eq(&p[0], &want));
}

static void
chk_nh32(const char *what, const struct bgp_update *u)
{
	EXPECT(what, (u->attrs.mp_nh_len) == (32));
	EXPECT(what, (u->attrs.mp_af) == (BGP_AF_IPV6));
}

static void
chk_confed_ok(const char *what, const struct bgp_update *u)
{
	EXPECT(what, u->attrs.mask & BIT(BGP_ATTR_AS_PATH));
}

static void
chk_aggr(const char *what, const struct bgp_update *u)
{
	EXPECT(what, (u->attrs.aggregator_as) == (65001));
	EXPECT(what, (u->attrs.aggregator_id) == (htonl(0xc0000201u)));
}

/* The canonical AS_PATH (4-octet) as "seg:as,as|..." */
static void
canon_path(const struct bgp_update *u, char *out, size_t cap)
{
	static uint8_t c[BGP_CANON_MAX];
	size_t len = 0, n = 0;
	struct bgp_attr a;

	out[0] = '\0';
	if (bgp_attrs_canon(u, c, sizeof(c), &len) != 0 ||
	    bgp_attr_find(c, len, BGP_ATTR_AS_PATH, &a) != 0)
		return;
	for (size_t i = 0; i + 2 <= a.len && n < cap;) {
		unsigned cnt = a.val[i + 1];
		n += (size_t)snprintf(out + n, cap - n, "%s%u:", n ? "|" : "", a.val[i]);
		for (unsigned k = 0; k < cnt && i + 2 + 4 * (k + 1) <= a.len && n < cap; k++) {
			const uint8_t *p = a.val + i + 2 + 4 * k;
			n += (size_t)snprintf(out + n, cap - n, "%s%u", k ? "," : "",
			                      (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
			                              (unsigned)p[2] << 8 | p[3]);
		}
		i += 2 + 4 * (size_t)cnt;
	}
}

static void
chk_as4path_merged(const char *what, const struct bgp_update *u)
{
	char p[128];
	canon_path(u, p, sizeof(p));
	if (strcmp(p, "2:4200000001,65001") != 0)
		FAILF("%s: canonical AS_PATH %s, want 2:4200000001,65001", what, p);
}

static void
chk_as4path_ignored(const char *what, const struct bgp_update *u)
{
	char p[128];
	canon_path(u, p, sizeof(p));
	if (strcmp(p, "2:23456,65001") != 0)
		FAILF("%s: canonical AS_PATH %s, want 2:23456,65001", what, p);
}

/* bgp.h: the canonical form is sorted by type code. */
static void
chk_canon_sorted(const char *what, const struct bgp_update *u)
{
	static uint8_t c[BGP_CANON_MAX];
	size_t len = 0;
	struct bgp_attr_iter it;
	struct bgp_attr a;
	int last = -1, n = 0;

	if (bgp_attrs_canon(u, c, sizeof(c), &len) != 0) {
		FAILF("%s: canon failed", what);
		return;
	}
	it = (struct bgp_attr_iter){ .p = c, .len = len, .pos = 0 };
	while (bgp_attr_next(&it, &a) == 1) {
		if ((int)a.type <= last)
			FAILF("%s: canonical attribute %u after %d", what, a.type, last);
		last = a.type;
		n++;
	}
	if (n != 4)
		FAILF("%s: %d canonical attributes, want 4", what, n);
}

static const struct upd_case upd_cases[] = {
	/* -- RFC 6793 §4.2.3 merge on a 2-octet session ---------------------------- */
	{ .what = "AS4_PATH merged into AS_PATH (RFC 6793 §4.2.3)",
	  .attrs = ORIGIN_IGP "40 02 06 02 02 5ba0 fde9 " NH "c0 11 0a 02 02 fa56ea01 0000fde9",
	  .nlri = NLRI1, .action = BGP_ACT_OK, .check = chk_as4path_merged },
	{ .what = "AGGREGATOR alone (not AS_TRANS) keeps AS4_PATH",
	  .attrs = ORIGIN_IGP "40 02 06 02 02 5ba0 fde9 " NH "c0 07 06 fde9 c0000201 "
	           "c0 11 0a 02 02 fa56ea01 0000fde9",
	  .nlri = NLRI1, .action = BGP_ACT_OK, .check = chk_as4path_merged },
	{ .what = "AGGREGATOR not AS_TRANS with AS4_AGGREGATOR: AS4_PATH ignored (RFC 6793 §4.2.3)",
	  .attrs = ORIGIN_IGP "40 02 06 02 02 5ba0 fde9 " NH "c0 07 06 fde9 c0000201 "
	           "c0 11 0a 02 02 fa56ea01 0000fde9 c0 12 08 fa56ea02 c0000202",
	  .nlri = NLRI1, .action = BGP_ACT_OK, .check = chk_as4path_ignored },

	/* -- accepted ------------------------------------------------------------ */
	{ .what = "plain IPv4 update", .attrs = BASE2, .nlri = NLRI2, .action = BGP_ACT_OK,
	  .present = BIT(1) | BIT(2) | BIT(3) },
	{ .what = "withdrawal only, no attributes", .withdrawn = NLRI1, .action = BGP_ACT_OK },
	{ .what = "IPv6 MP_REACH without NEXT_HOP (RFC 4760 §3)", .attrs = ORIGIN_IGP AP2 MPR6,
	  .action = BGP_ACT_OK, .n_mp_reach = 1 },
	{ .what = "IPv6 next hop global + link-local (RFC 2545 §3)",
	  .attrs = ORIGIN_IGP AP2 "80 0e 2a 0002 01 20 " V6NH
	                          " fe800000000000000000000000000001 00 20 20010db8",
	  .action = BGP_ACT_OK, .n_mp_reach = 1, .check = chk_nh32 },
	{ .what = "default route 0.0.0.0/0", .attrs = BASE2, .nlri = "00", .action = BGP_ACT_OK },
	{ .what = "host bits set in NLRI are cleared (RFC 4271 §4.3)", .attrs = BASE2,
	  .nlri = "0d 0b0d", .action = BGP_ACT_OK, .check = chk_trailing_bits },
	{ .what = "empty AS_PATH from iBGP", .ibgp = true, .attrs = ORIGIN_IGP "40 02 00 " NH LP,
	  .nlri = NLRI1, .action = BGP_ACT_OK },
	{ .what = "LOCAL_PREF from iBGP", .ibgp = true, .attrs = BASE2 "40 05 04 0000012c",
	  .nlri = NLRI1, .action = BGP_ACT_OK, .present = BIT(5), .check = chk_local_pref },
	{ .what = "confederation segments from iBGP (RFC 5065)", .ibgp = true,
	  .attrs = ORIGIN_IGP "40 02 08 03 01 fdea 02 01 fde9 " NH LP, .nlri = NLRI1,
	  .action = BGP_ACT_OK, .check = chk_confed_ok },
	{ .what = "AGGREGATOR 6 octets on a 2-octet session", .attrs = BASE2 "c0 07 06 fde9 c0000201",
	  .nlri = NLRI1, .action = BGP_ACT_OK, .present = BIT(7), .check = chk_aggr },
	{ .what = "AGGREGATOR 8 octets on a 4-octet session", .as4 = true,
	  .attrs = BASE4 "c0 07 08 0000fde9 c0000201", .nlri = NLRI1, .action = BGP_ACT_OK,
	  .present = BIT(7), .check = chk_aggr },

	/* RFC 4271 §5: unrecognized optional transitive attributes pass on. */
	{ .what = "unknown optional transitive attribute kept", .attrs = BASE2 "c0 63 02 aabb",
	  .nlri = NLRI1, .action = BGP_ACT_OK, .check = chk_unknown99_kept },
	{ .what = "unknown optional transitive type 0 sorts first in canon (fuzzer)",
	  .attrs = BASE2 "c0 00 02 aabb", .nlri = NLRI1, .action = BGP_ACT_OK,
	  .check = chk_canon_sorted },
	/* RFC 4271 §5: unrecognized optional non-transitive are quietly ignored. */
	{ .what = "unknown optional non-transitive attribute ignored",
	  .attrs = BASE2 "80 63 02 aabb", .nlri = NLRI1, .action = ACT_OK_OR_DISCARD,
	  .check = chk_unknown99_dropped },
	{ .what = "attributes without NLRI", .attrs = BASE2, .action = BGP_ACT_OK },
	/* RFC 7606 §3d: mandatory attributes matter only when NLRI is present. */
	{ .what = "missing ORIGIN without NLRI is not an error", .attrs = AP2 NH,
	  .withdrawn = NLRI1, .action = BGP_ACT_OK },

	/* -- session reset ------------------------------------------------------- */
	/* RFC 4271 §6.3 / RFC 7606 §4: lengths past the message: Malformed
	 * Attribute List, no data. */
	{ .what = "withdrawn length past the message", .raw = "0010 0000", .action = BGP_ACT_RESET,
	  .code = 3, .sub = 1, .data = "" },
	{ .what = "total attribute length past the message", .raw = "0000 0020 " ORIGIN_IGP,
	  .action = BGP_ACT_RESET, .code = 3, .sub = 1, .data = "" },
	{ .what = "withdrawn + attribute lengths past the message", .raw = "0002 080a 0005 " ORIGIN_IGP,
	  .action = BGP_ACT_RESET, .code = 3, .sub = 1, .data = "" },
	{ .what = "message ends inside the attribute length field", .raw = "0002 080a 00",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 1, .data = "" },
	/* RFC 7606 §5.3 / RFC 4271 §6.3: Invalid Network Field */
	{ .what = "NLRI prefix length 33", .attrs = BASE2, .nlri = "21 c6336400 00",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 10 },
	{ .what = "NLRI prefix past the end", .attrs = BASE2, .nlri = NLRI1 " 18 c633",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 10 },
	{ .what = "withdrawn prefix length 33", .withdrawn = "21 0a000000 00",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 10 },
	{ .what = "withdrawn prefix past the field", .withdrawn = "18 0a01",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 10 },
	/* RFC 4271 §6.3: Unrecognized Well-known Attribute, data = the attribute */
	{ .what = "unrecognized well-known attribute 99", .attrs = BASE2 "40 63 02 aabb",
	  .nlri = NLRI1, .action = BGP_ACT_RESET, .code = 3, .sub = 2, .data = "406302aabb" },
	/* RFC 7606 §3g: MP_REACH/MP_UNREACH more than once: Malformed Attribute List */
	{ .what = "MP_REACH_NLRI twice", .attrs = ORIGIN_IGP AP2 MPR6 MPR6,
	  .action = BGP_ACT_RESET, .code = 3, .sub = 1, .data = "" },
	{ .what = "MP_UNREACH_NLRI twice", .attrs = MPU6 MPU6, .action = BGP_ACT_RESET,
	  .code = 3, .sub = 1, .data = "" },
	/* RFC 7606 §7.11, RFC 4760 §7: Optional Attribute Error; RFC 4271 §6.3:
	 * data = the attribute. */
	{ .what = "MP_REACH_NLRI IPv6 next hop of 5 octets", .attrs = ORIGIN_IGP AP2
	  "80 0e 0f 0002 01 05 20010db800 00 20 20010db8", .action = BGP_ACT_RESET, .code = 3,
	  .sub = 9, .data = "800e0f00020105 20010db800 00 20 20010db8" },
	{ .what = "MP_REACH_NLRI prefix past the attribute",
	  .attrs = ORIGIN_IGP AP2 "80 0e 1a 0002 01 10 " V6NH " 00 40 20010db8",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 9,
	  .data = "800e1a 0002 01 10 " V6NH " 00 40 20010db8" },
	{ .what = "MP_REACH_NLRI prefix length 129", .attrs = ORIGIN_IGP AP2
	  "80 0e 27 0002 01 10 " V6NH " 00 81 20010db8000000000000000000000000 00",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 9,
	  .data = "800e27 0002 01 10 " V6NH " 00 81 20010db8000000000000000000000000 00" },
	{ .what = "MP_REACH_NLRI shorter than AFI/SAFI/length", .attrs = ORIGIN_IGP AP2
	  "80 0e 03 0002 01", .action = BGP_ACT_RESET, .code = 3, .sub = 9,
	  .data = "800e03 0002 01" },
	{ .what = "MP_UNREACH_NLRI prefix past the attribute", .attrs = "80 0f 08 0002 01 40 20010db8",
	  .action = BGP_ACT_RESET, .code = 3, .sub = 9, .data = "800f08 0002 01 40 20010db8" },

	/* -- treat-as-withdraw (RFC 7606 §2, §7) --------------------------------- */
	{ .what = "ORIGIN length 2 (RFC 7606 §7.1)", .attrs = "40 01 02 0000 " AP2 NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "ORIGIN value 3 (RFC 7606 §7.1)", .attrs = "40 01 01 03 " AP2 NH, .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH segment type 5 (RFC 7606 §7.2)", .attrs = ORIGIN_IGP "40 02 04 05 01 fde9 " NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH segment type 0", .attrs = ORIGIN_IGP "40 02 04 00 01 fde9 " NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH segment overrun", .attrs = ORIGIN_IGP "40 02 04 02 02 fde9 " NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH one octet left after a segment",
	  .attrs = ORIGIN_IGP "40 02 05 02 01 fde9 02 " NH, .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH segment of length 0", .attrs = ORIGIN_IGP "40 02 02 02 00 " NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH 4-octet session, 2-octet path", .as4 = true,
	  .attrs = ORIGIN_IGP "40 02 06 02 02 fde9 fdea " NH, .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH contains AS 0 (RFC 7607)", .attrs = ORIGIN_IGP "40 02 06 02 02 fde9 0000 " NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_PATH AS 0 on a 4-octet session (RFC 7607)", .as4 = true,
	  .attrs = ORIGIN_IGP "40 02 06 02 01 00000000 " NH, .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_CONFED_SEQUENCE from eBGP (RFC 5065 §5, RFC 7606 §7.2)",
	  .attrs = ORIGIN_IGP "40 02 08 03 01 fdea 02 01 fde9 " NH, .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "AS_CONFED_SET from eBGP", .attrs = ORIGIN_IGP "40 02 08 04 01 fdea 02 01 fde9 " NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "NEXT_HOP length 5 (RFC 7606 §7.3)", .attrs = ORIGIN_IGP AP2 "40 03 05 c000020100",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "NEXT_HOP length 3", .attrs = ORIGIN_IGP AP2 "40 03 03 c00002", .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "MED length 3 (RFC 7606 §7.4)", .attrs = BASE2 "80 04 03 000001", .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "LOCAL_PREF length 3 from iBGP (RFC 7606 §7.5)", .ibgp = true,
	  .attrs = BASE2 "40 05 03 000064", .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "COMMUNITIES length 5 (RFC 7606 §7.8)", .attrs = BASE2 "c0 08 05 fde90001 00",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "COMMUNITIES length 0 (RFC 7606 §7.8: non-zero multiple of 4)",
	  .attrs = BASE2 "c0 08 00", .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	/* LOCAL_PREF is well-known discretionary (RFC 4271 §5): its absence on
	 * an internal session is no missing mandatory attribute (RFC 7606 §3d);
	 * the route is kept and gets the default preference. */
	{ .what = "LOCAL_PREF missing from iBGP (discretionary)", .ibgp = true, .attrs = BASE2,
	  .nlri = NLRI1, .action = BGP_ACT_OK },
	{ .what = "ORIGINATOR_ID length 5 (RFC 7606 §7.9)", .ibgp = true,
	  .attrs = BASE2 LP "80 09 05 c0000201 00", .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "CLUSTER_LIST length 6 (RFC 7606 §7.10)", .ibgp = true,
	  .attrs = BASE2 LP "80 0a 06 c0000201 0000", .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "CLUSTER_LIST length 0 (RFC 7606 §7.10: non-zero multiple of 4)", .ibgp = true,
	  .attrs = BASE2 LP "80 0a 00", .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "EXT_COMMUNITIES length 7 (RFC 7606 §7.14)",
	  .attrs = BASE2 "c0 10 07 00020000fde900", .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "EXT_COMMUNITIES length 0 (non-zero multiple of 8)", .attrs = BASE2 "c0 10 00",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "LARGE_COMMUNITY length 13 (RFC 8092 §5)",
	  .attrs = BASE2 "c0 20 0d 0000fde9 00000001 00000002 00", .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "LARGE_COMMUNITY length 0 (non-zero multiple of 12)", .attrs = BASE2 "c0 20 00",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	/* RFC 7606 §3c: Optional/Transitive bits in conflict with the type */
	{ .what = "ORIGIN flagged optional (RFC 7606 §3c)", .attrs = "c0 01 01 00 " AP2 NH,
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "NEXT_HOP flagged non-transitive", .attrs = ORIGIN_IGP AP2 "00 03 04 c0000201",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "MED flagged well-known", .attrs = BASE2 "40 04 04 00000001", .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "COMMUNITIES flagged non-transitive", .attrs = BASE2 "80 08 04 fde90001",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	/* RFC 7606 §3d: missing well-known mandatory attribute with NLRI */
	{ .what = "missing ORIGIN (RFC 7606 §3d)", .attrs = AP2 NH, .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "missing AS_PATH", .attrs = ORIGIN_IGP NH, .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },
	{ .what = "missing NEXT_HOP with IPv4 NLRI", .attrs = ORIGIN_IGP AP2, .nlri = NLRI2,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "missing ORIGIN with MP_REACH_NLRI", .attrs = AP2 MPR6,
	  .action = BGP_ACT_WITHDRAW, .n_mp_reach = 1 },
	/* RFC 7606 §4: an attribute running past the attribute field */
	{ .what = "attribute length past Total Attribute Length (RFC 7606 §4)",
	  .attrs = BASE2 "c0 08 08 fde90001", .nlri = NLRI2, .action = BGP_ACT_WITHDRAW },
	{ .what = "attribute header cut short", .attrs = BASE2 "c0 08", .nlri = NLRI1,
	  .action = BGP_ACT_WITHDRAW },
	{ .what = "extended-length attribute header cut short", .attrs = BASE2 "d0 08 00",
	  .nlri = NLRI1, .action = BGP_ACT_WITHDRAW },

	/* -- attribute discard (RFC 7606 §2, §7) ---------------------------------- */
	{ .what = "LOCAL_PREF from eBGP (RFC 7606 §7.5)", .attrs = BASE2 "40 05 04 00000064",
	  .nlri = NLRI1, .action = BGP_ACT_DISCARD, .absent = BIT(5), .min_discarded = 1 },
	{ .what = "LOCAL_PREF of length 3 from eBGP is discarded, not TaW",
	  .attrs = BASE2 "40 05 03 000064", .nlri = NLRI1, .action = BGP_ACT_DISCARD,
	  .absent = BIT(5), .min_discarded = 1 },
	{ .what = "ATOMIC_AGGREGATE length 1 (RFC 7606 §7.6)", .attrs = BASE2 "40 06 01 00",
	  .nlri = NLRI1, .action = BGP_ACT_DISCARD, .absent = BIT(6), .min_discarded = 1 },
	{ .what = "AGGREGATOR of 8 octets on a 2-octet session (RFC 7606 §7.7)",
	  .attrs = BASE2 "c0 07 08 0000fde9 c0000201", .nlri = NLRI1, .action = BGP_ACT_DISCARD,
	  .absent = BIT(7), .min_discarded = 1 },
	{ .what = "AGGREGATOR of 6 octets on a 4-octet session", .as4 = true,
	  .attrs = BASE4 "c0 07 06 fde9 c0000201", .nlri = NLRI1, .action = BGP_ACT_DISCARD,
	  .absent = BIT(7), .min_discarded = 1 },
	{ .what = "AGGREGATOR AS 0 (RFC 7607)", .attrs = BASE2 "c0 07 06 0000 c0000201",
	  .nlri = NLRI1, .action = BGP_ACT_DISCARD, .absent = BIT(7), .min_discarded = 1 },
	/* RFC 6793 §6 (as revised by RFC 7606 §7.15): AS4_PATH / AS4_AGGREGATOR discard */
	{ .what = "AS4_PATH segment overrun (RFC 6793 §6)",
	  .attrs = ORIGIN_IGP "40 02 04 02 01 5ba0 " NH "c0 11 06 02 02 fa56ea01", .nlri = NLRI1,
	  .action = BGP_ACT_DISCARD, .absent = BIT(17), .min_discarded = 1 },
	{ .what = "AS4_PATH length not a multiple of 4",
	  .attrs = ORIGIN_IGP "40 02 04 02 01 5ba0 " NH "c0 11 05 02 01 fa56ea", .nlri = NLRI1,
	  .action = BGP_ACT_DISCARD, .absent = BIT(17), .min_discarded = 1 },
	{ .what = "AS4_PATH with AS 0 (RFC 7607)",
	  .attrs = ORIGIN_IGP "40 02 04 02 01 5ba0 " NH "c0 11 06 02 01 00000000", .nlri = NLRI1,
	  .action = BGP_ACT_DISCARD, .absent = BIT(17), .min_discarded = 1 },
	{ .what = "AS4_AGGREGATOR of 6 octets",
	  .attrs = BASE2 "c0 07 06 5ba0 c0000201 c0 12 06 fa56 c0000201", .nlri = NLRI1,
	  .action = BGP_ACT_DISCARD, .absent = BIT(18), .min_discarded = 1 },
	{ .what = "AS4_AGGREGATOR AS 0 (RFC 7607)",
	  .attrs = BASE2 "c0 07 06 5ba0 c0000201 c0 12 08 00000000 c0000201", .nlri = NLRI1,
	  .action = BGP_ACT_DISCARD, .absent = BIT(18), .min_discarded = 1 },
	/* RFC 7606 §3g: duplicates other than MP_*: all but the first discarded */
	{ .what = "ORIGIN twice (RFC 7606 §3g)", .attrs = BASE2 ORIGIN_EGP, .nlri = NLRI1,
	  .action = BGP_ACT_DISCARD, .min_discarded = 1, .check = chk_origin_igp },
	{ .what = "COMMUNITIES twice", .attrs = BASE2 "c0 08 04 fde90001 c0 08 04 fde90002",
	  .nlri = NLRI1, .action = BGP_ACT_DISCARD, .min_discarded = 1,
	  .check = chk_first_communities },
};

/* Reference IPv4 NLRI decoder (RFC 4271 §4.3) for the expected prefixes. */
static size_t
ref_nlri4(const char *hex, struct bgp_prefix *out, size_t cap)
{
	uint8_t b[256];
	size_t n = hex ? tu_hex(hex, b, sizeof(b)) : 0, i = 0, k = 0;

	while (i < n && k < cap) {
		uint8_t len = b[i++];
		size_t bytes = (len + 7u) / 8;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].af = BGP_AF_IPV4;
		out[k].len = len;
		memcpy(out[k].addr, b + i, bytes);
		if (len % 8)
			out[k].addr[bytes - 1] &= (uint8_t)(0xff << (8 - len % 8));
		i += bytes;
		k++;
	}
	return k;
}

static void
test_update(void **state)
{
	(void)state;
	nfail = 0;
	for (size_t i = 0; i < sizeof(upd_cases) / sizeof(upd_cases[0]); i++) {
		const struct upd_case *c = &upd_cases[i];
		struct bgp_sess s;
		struct bgp_update u;

		tu_sess(&s, c->as4, c->ibgp);
		if (c->raw) {
			tu_msg_begin(&msg, BGP_MSG_UPDATE);
			tu_puthex(&msg, c->raw);
			tu_msg_end(&msg);
		} else {
			tu_update_hex(&msg, c->withdrawn, c->attrs, c->nlri);
		}
		memset(&u, 0xa5, sizeof(u));
		int rc = bgp_update_decode(msg.b, msg.len, &s, &u);

		if (c->action == BGP_ACT_RESET) {
			if (rc != -1 || u.action != BGP_ACT_RESET) {
				FAILF("%s: rc %d action %s, want session reset (%s)", c->what, rc,
				      bgp_action_name(u.action), u.err.reason ? u.err.reason : "");
				continue;
			}
			check_err(c->what, &u.err, c->code, c->sub, c->data);
			continue;
		}
		if (rc != 0) {
			FAILF("%s: rc %d action %s (%u/%u %s)", c->what, rc, bgp_action_name(u.action),
			      u.err.code, u.err.subcode, u.err.reason ? u.err.reason : "");
			continue;
		}
		if (c->action == ACT_OK_OR_DISCARD) {
			if (u.action != BGP_ACT_OK && u.action != BGP_ACT_DISCARD)
				FAILF("%s: action %s, want ok or discard (%s)", c->what,
				         bgp_action_name(u.action), u.err.reason ? u.err.reason : "");
		} else if ((int)u.action != c->action) {
			FAILF("%s: action %s, want %s (%s)", c->what, bgp_action_name(u.action),
			         bgp_action_name((enum bgp_action)c->action),
			         u.err.reason ? u.err.reason : "no reason");
		}
		if (u.action != BGP_ACT_OK && u.err.reason == NULL)
			FAILF("%s: action %s without a reason", c->what, bgp_action_name(u.action));
		if ((u.attrs.mask & c->present) != c->present)
			FAILF("%s: mask %#llx lacks %#llx", c->what, (unsigned long long)u.attrs.mask,
			         (unsigned long long)c->present);
		if (u.attrs.mask & c->absent)
			FAILF("%s: mask %#llx has discarded %#llx", c->what,
			         (unsigned long long)u.attrs.mask, (unsigned long long)c->absent);
		if (u.n_discarded < c->min_discarded)
			FAILF("%s: %u attributes discarded, want >= %u", c->what, u.n_discarded,
			         c->min_discarded);

		/* Every NLRI stays reachable, also (above all) for treat-as-withdraw:
		 * the caller must be able to withdraw them. */
		struct bgp_prefix want[16], got[16];
		size_t nw = ref_nlri4(c->nlri, want, 16);
		size_t ng = tu_nlri_collect(&u.nlri, got, 16);
		if (ng != nw || u.nlri.count != nw)
			FAILF("%s: %zu NLRI iterated, count %u, want %zu", c->what, ng, u.nlri.count, nw);
		for (size_t k = 0; k < nw; k++)
			if (!tu_prefix_eq(&want[k], &got[k]))
				FAILF("%s: NLRI %zu differs", c->what, k);
		nw = ref_nlri4(c->withdrawn, want, 16);
		ng = tu_nlri_collect(&u.withdrawn, got, 16);
		if (ng != nw || u.withdrawn.count != nw)
			FAILF("%s: %zu withdrawn iterated, want %zu", c->what, ng, nw);
		if (c->n_mp_reach > 0) {
			ng = tu_nlri_collect(&u.mp_reach, got, 16);
			if (ng != (size_t)c->n_mp_reach || u.mp_reach.count != ng)
				FAILF("%s: %zu MP_REACH prefixes, want %d", c->what, ng, c->n_mp_reach);
			EXPECT(c->what, got[0].af == BGP_AF_IPV6 && got[0].len == 32);
		}
		if (c->check)
			c->check(c->what, &u);
	}
	if (nfail)
		fail_msg("%d failed expectations", nfail);
}

/* ---- End-of-RIB (RFC 4724 §2) ------------------------------------------------------------- */
struct eor_case {
	const char *what;
	const char *withdrawn, *attrs, *nlri;
	bool eor;
	uint8_t af;
};

static const struct eor_case eor_cases[] = {
	{ .what = "empty UPDATE is the IPv4 EoR", .eor = true, .af = BGP_AF_IPV4 },
	{ .what = "only an empty IPv6 MP_UNREACH_NLRI is the IPv6 EoR",
	  .attrs = "80 0f 03 0002 01", .eor = true, .af = BGP_AF_IPV6 },
	{ .what = "withdrawing one IPv4 prefix is not EoR", .withdrawn = NLRI1, .eor = false },
	{ .what = "IPv6 MP_UNREACH_NLRI with a prefix is not EoR", .attrs = MPU6, .eor = false },
	{ .what = "attributes without NLRI are not EoR", .attrs = BASE2, .eor = false },
	{ .what = "an announcement is not EoR", .attrs = BASE2, .nlri = NLRI1, .eor = false },
};

static void
test_eor(void **state)
{
	(void)state;
	nfail = 0;
	for (size_t i = 0; i < sizeof(eor_cases) / sizeof(eor_cases[0]); i++) {
		const struct eor_case *c = &eor_cases[i];
		struct bgp_sess s;
		struct bgp_update u;

		tu_sess(&s, false, false);
		tu_update_hex(&msg, c->withdrawn, c->attrs, c->nlri);
		memset(&u, 0, sizeof(u));
		if (bgp_update_decode(msg.b, msg.len, &s, &u) != 0) {
			FAILF("%s: rejected (%s)", c->what, u.err.reason ? u.err.reason : "");
			continue;
		}
		if (u.eor != c->eor)
			FAILF("%s: eor %d", c->what, u.eor);
		if (c->eor && u.eor_af != c->af)
			FAILF("%s: eor_af %u, want %u", c->what, u.eor_af, c->af);
	}
	if (nfail)
		fail_msg("%d failed expectations", nfail);
}

/* ---- NOTIFICATION / ROUTE-REFRESH decode errors ---------------------------------------- */
static void
test_rrefresh_errors(void **state)
{
	struct bgp_rrefresh r;
	struct bgp_error err;
	(void)state;
	nfail = 0;

	/* RFC 7313 §5: a BoRR/EoRR whose length is not 4 after the header:
	 * ROUTE-REFRESH Message Error / Invalid Message Length, data = the whole
	 * message. */
	tu_msg_begin(&msg, BGP_MSG_ROUTE_REFRESH);
	tu_puthex(&msg, "0001 01 01 abcd");
	tu_msg_end(&msg);
	memset(&err, 0, sizeof(err));
	assert_int_equal(bgp_rrefresh_decode(msg.b, msg.len, &r, &err), -1);
	char whole[128];
	size_t n = 0;
	for (size_t i = 0; i < msg.len; i++)
		n += (size_t)snprintf(whole + n, sizeof(whole) - n, "%02x", msg.b[i]);
	check_err("BoRR of 25 octets (RFC 7313 §5)", &err, BGP_ERR_RREFRESH, BGP_ERR_RR_LENGTH,
	          whole);

	/* A well-formed one decodes. */
	tu_msg_begin(&msg, BGP_MSG_ROUTE_REFRESH);
	tu_puthex(&msg, "0002 02 01");
	tu_msg_end(&msg);
	assert_int_equal(bgp_rrefresh_decode(msg.b, msg.len, &r, &err), 0);
	assert_int_equal(r.afi, 2);
	assert_int_equal(r.subtype, BGP_RR_EORR);
	assert_int_equal(r.safi, 1);
}

static void
test_notify_shutdown_malformed(void **state)
{
	struct bgp_notify n;
	struct bgp_error err;
	(void)state;
	nfail = 0;

	/* RFC 8203 §2 / RFC 9003 §2: a length octet larger than the data left is
	 * not a valid shutdown communication: the NOTIFICATION still decodes,
	 * without a message. */
	tu_msg_begin(&msg, BGP_MSG_NOTIFICATION);
	tu_puthex(&msg, "06 02 10 6869");
	tu_msg_end(&msg);
	memset(&n, 0, sizeof(n));
	assert_int_equal(bgp_notify_decode(msg.b, msg.len, &n, &err), 0);
	assert_int_equal(n.code, 6);
	assert_int_equal(n.subcode, 2);
	assert_int_equal(n.data_len, 3);
	assert_string_equal(n.shutdown_msg, "");

	/* Well-formed: "hi" */
	tu_msg_begin(&msg, BGP_MSG_NOTIFICATION);
	tu_puthex(&msg, "06 04 02 6869");
	tu_msg_end(&msg);
	assert_int_equal(bgp_notify_decode(msg.b, msg.len, &n, &err), 0);
	assert_string_equal(n.shutdown_msg, "hi");
}

/* An UPDATE on a 2-octet session with extended messages (RFC 8654) whose
 * AS_PATH holds n ASes (65001 first), in full segments. */
static void
long_path_update(unsigned n)
{
	size_t alen_at, attrs_at, path_at;

	tu_msg_begin(&msg, BGP_MSG_UPDATE);
	tu_put16(&msg, 0);
	alen_at = msg.len;
	tu_put16(&msg, 0);
	attrs_at = msg.len;
	tu_puthex(&msg, ORIGIN_IGP "50 02 0000");
	path_at = msg.len;
	for (unsigned i = 0; i < n; i += 255) {
		unsigned c = n - i < 255 ? n - i : 255;
		tu_put8(&msg, BGP_ASPATH_SEQUENCE);
		tu_put8(&msg, c);
		for (unsigned k = 0; k < c; k++)
			tu_put16(&msg, i + k == 0 ? 65001 : 1000 + (i + k) % 50000);
	}
	tu_set16(&msg, path_at - 2, (unsigned)(msg.len - path_at));
	tu_puthex(&msg, NH);
	tu_set16(&msg, alen_at, (unsigned)(msg.len - attrs_at));
	tu_puthex(&msg, NLRI1);
	tu_msg_end(&msg);
}

/* bgp.h: the canonical AS_PATH is 4-octet. A 2-octet path that an extended
 * message can carry may be too long for that: canon must fail (the route
 * is then withdrawn), not write a length that wrapped past 65535. */
static void
test_canon_long_2octet_path(void **state)
{
	static uint8_t c[BGP_CANON_MAX];
	struct bgp_sess s;
	struct bgp_update u;
	struct bgp_attr a;
	size_t len;
	(void)state;

	bgp_sess_init(&s);
	s.ext_msg = 1;
	long_path_update(16000); /* 64,126 octets widened: fits */
	assert_int_equal(bgp_update_decode(msg.b, msg.len, &s, &u), 0);
	assert_int_equal(u.action, BGP_ACT_OK);
	assert_int_equal(bgp_attrs_canon(&u, c, sizeof(c), &len), 0);
	assert_int_equal(bgp_attr_find(c, len, BGP_ATTR_AS_PATH, &a), 0);
	assert_int_equal(a.len, 16000 * 4 + 63 * 2);
	assert_int_equal(bgp_aspath_count(a.val, a.len), 16000);

	long_path_update(20000); /* 80,158 octets widened */
	assert_int_equal(bgp_update_decode(msg.b, msg.len, &s, &u), 0);
	assert_int_equal(u.action, BGP_ACT_OK);
	assert_int_equal(bgp_attrs_canon(&u, c, sizeof(c), &len), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_eor),
		cmocka_unit_test(test_rrefresh_errors),
		cmocka_unit_test(test_notify_shutdown_malformed),
		cmocka_unit_test(test_canon_long_2octet_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
