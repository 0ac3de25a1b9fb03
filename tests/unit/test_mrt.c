/*
 * test_mrt.c — unit tests for the MRT record parsers and reader (engine/mrt.c).
 * Table-driven: each case is hex input, the expected outcome and a .what label.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>
#include <cmocka.h>

#include "routehub/mrt.h"

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue; /* spaces and separators */
		if (hi == -1) {
			hi = v;
			continue;
		}
		assert_true(n < cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	assert_int_equal(hi, -1);
	return n;
}

/* ---- header --------------------------------------------------------------------- */
struct hdr_case {
	const char *what;
	const char *hex;
	int rc;
	uint16_t type, subtype;
	uint32_t body_len, usec;
	const char *reason;
};

static const struct hdr_case hdr_cases[] = {
	{ .what = "BGP4MP message header", .hex = "5ae7 8a00 0010 0004 0000 0040",
	  .rc = 0, .type = 16, .subtype = 4, .body_len = 64 },
	{ .what = "BGP4MP_ET: length includes microseconds",
	  .hex = "5629 c4ee 0011 0001 0000 0048 0007 c631", .rc = 0, .type = 17,
	  .subtype = 1, .body_len = 68, .usec = 509489 },
	{ .what = "truncated common header", .hex = "5ae7 8a00 0010 0004 0000", .rc = -1,
	  .reason = "truncated header" },
	{ .what = "BGP4MP_ET without its timestamp", .hex = "5629 c4ee 0011 0001 0000 0048",
	  .rc = -1, .reason = "truncated header" },
	{ .what = "BGP4MP_ET length below 4", .hex = "5629 c4ee 0011 0001 0000 0003 0000 0000",
	  .rc = -1, .reason = "BGP4MP_ET length shorter than its timestamp" },
	{ .what = "impossible length", .hex = "5ae7 8a00 0010 0004 7fff ffff", .rc = -1,
	  .reason = "record length too large" },
};

static void
test_hdr(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		uint8_t buf[64];
		size_t n = unhex(c->hex, buf, sizeof(buf));
		struct mrt_hdr h;
		struct mrt_err e = { NULL, 0 };
		int rc = mrt_hdr_parse(buf, n, &h, &e);

		print_message("hdr: %s\n", c->what);
		assert_int_equal(rc, c->rc);
		if (rc == 0) {
			assert_int_equal(h.type, c->type);
			assert_int_equal(h.subtype, c->subtype);
			assert_int_equal(h.body_len, c->body_len);
			assert_int_equal(h.usec, c->usec);
		} else {
			assert_string_equal(e.reason, c->reason);
		}
	}
}

/* ---- BGP4MP --------------------------------------------------------------------- */
#define KEEPALIVE "ffffffffffffffffffffffffffffffff 0013 04"

struct bgp4mp_case {
	const char *what;
	uint16_t subtype;
	const char *hex;
	int rc;
	uint32_t peer_as, local_as;
	uint8_t af;
	bool as4, addpath, local, state;
	uint16_t old_state, new_state;
	size_t msg_len;
	const char *reason;
};

static const struct bgp4mp_case bgp4mp_cases[] = {
	{ .what = "STATE_CHANGE IPv4", .subtype = 0,
	  .hex = "3d79 fde8 0000 0001 c1cb0045 c1cb0001 0003 0002", .rc = 0,
	  .peer_as = 15737, .local_as = 65000, .af = BGP_AF_IPV4, .state = true,
	  .old_state = 3, .new_state = 2 },
	{ .what = "STATE_CHANGE_AS4 IPv6", .subtype = 5,
	  .hex = "00030686 0000fde8 0000 0002 20010db8000000000000000000000001"
	         "20010db8000000000000000000000002 0001 0002",
	  .rc = 0, .peer_as = 198278, .local_as = 65000, .af = BGP_AF_IPV6, .as4 = true,
	  .state = true, .old_state = 1, .new_state = 2 },
	{ .what = "MESSAGE_AS4 with a KEEPALIVE", .subtype = 4,
	  .hex = "00000f10 0000fde8 0000 0001 0a000001 0a000002 " KEEPALIVE, .rc = 0,
	  .peer_as = 3856, .local_as = 65000, .af = BGP_AF_IPV4, .as4 = true, .msg_len = 19 },
	{ .what = "MESSAGE_AS4_LOCAL_ADDPATH flags", .subtype = 11,
	  .hex = "00000f10 0000fde8 0000 0001 0a000001 0a000002 " KEEPALIVE, .rc = 0,
	  .peer_as = 3856, .local_as = 65000, .af = BGP_AF_IPV4, .as4 = true,
	  .addpath = true, .local = true, .msg_len = 19 },
	{ .what = "MESSAGE_ADDPATH, 2-octet AS", .subtype = 8,
	  .hex = "0f10 fde8 0000 0001 0a000001 0a000002 " KEEPALIVE, .rc = 0,
	  .peer_as = 3856, .local_as = 65000, .af = BGP_AF_IPV4, .addpath = true,
	  .msg_len = 19 },
	{ .what = "unknown subtype 3 (SNAPSHOT)", .subtype = 3, .hex = "0000", .rc = -1,
	  .reason = "unsupported BGP4MP subtype" },
	{ .what = "unknown AFI", .subtype = 1, .hex = "0f10 fde8 0000 0003 0a000001", .rc = -1,
	  .reason = "BGP4MP: unknown address family" },
	{ .what = "truncated peer header", .subtype = 4, .hex = "00000f10 0000", .rc = -1,
	  .reason = "BGP4MP: truncated peer header" },
	{ .what = "truncated IPv6 address", .subtype = 1,
	  .hex = "0f10 fde8 0000 0002 20010db8", .rc = -1,
	  .reason = "BGP4MP: truncated peer/local address" },
	{ .what = "truncated state change", .subtype = 0,
	  .hex = "0f10 fde8 0000 0001 0a000001 0a000002 0001", .rc = -1,
	  .reason = "BGP4MP: truncated state change" },
	{ .what = "message shorter than a BGP header", .subtype = 1,
	  .hex = "0f10 fde8 0000 0001 0a000001 0a000002 ffffffff", .rc = -1,
	  .reason = "BGP4MP: message shorter than a BGP header" },
};

static void
test_bgp4mp(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bgp4mp_cases) / sizeof(bgp4mp_cases[0]); i++) {
		const struct bgp4mp_case *c = &bgp4mp_cases[i];
		uint8_t buf[256];
		size_t n = unhex(c->hex, buf, sizeof(buf));
		struct mrt_bgp4mp m;
		struct mrt_err e = { NULL, 0 };
		int rc = mrt_bgp4mp_parse(c->subtype, buf, n, &m, &e);

		print_message("bgp4mp: %s\n", c->what);
		assert_int_equal(rc, c->rc);
		if (rc != 0) {
			assert_string_equal(e.reason, c->reason);
			assert_true(e.off <= n);
			continue;
		}
		assert_int_equal(m.peer_as, c->peer_as);
		assert_int_equal(m.local_as, c->local_as);
		assert_int_equal(m.peer_ip.af, c->af);
		assert_int_equal(m.as4, c->as4);
		assert_int_equal(m.addpath, c->addpath);
		assert_int_equal(m.local, c->local);
		assert_int_equal(m.state, c->state);
		if (c->state) {
			assert_int_equal(m.old_state, c->old_state);
			assert_int_equal(m.new_state, c->new_state);
			assert_null(m.msg);
		} else {
			assert_int_equal(m.msg_len, c->msg_len);
			assert_int_equal(m.msg[0], 0xff);
			assert_ptr_equal(m.msg + m.msg_len, buf + n);
		}
	}
}

/* ---- TABLE_DUMP ------------------------------------------------------------------ */
struct td_case {
	const char *what;
	uint16_t subtype;
	const char *hex;
	int rc;
	uint8_t plen;
	uint8_t addr0, addr1;
	uint16_t peer_as, attrs_len;
	const char *reason;
};

static const struct td_case td_cases[] = {
	{ .what = "IPv4 entry", .subtype = 1,
	  .hex = "0000 0001 03000000 08 01 3d3c6e3f c1cb0001 073d 0004 40010100", .rc = 0,
	  .plen = 8, .addr0 = 3, .peer_as = 1853, .attrs_len = 4 },
	{ .what = "host bits cleared", .subtype = 1,
	  .hex = "0000 0001 0b0d0000 0d 01 3d3c6e3f c1cb0001 073d 0000", .rc = 0,
	  .plen = 13, .addr0 = 11, .addr1 = 8, .peer_as = 1853 },
	{ .what = "IPv6 entry", .subtype = 2,
	  .hex = "0000 0001 20010db8000000000000000000000000 20 01 3d3c6e3f "
	         "20010db8000000000000000000000001 fde8 0000",
	  .rc = 0, .plen = 32, .addr0 = 0x20, .addr1 = 0x01, .peer_as = 65000 },
	{ .what = "prefix length 33", .subtype = 1,
	  .hex = "0000 0001 03000000 21 01 3d3c6e3f c1cb0001 073d 0000", .rc = -1,
	  .reason = "TABLE_DUMP: prefix length too long" },
	{ .what = "attributes beyond the record", .subtype = 1,
	  .hex = "0000 0001 03000000 08 01 3d3c6e3f c1cb0001 073d 0010 4001", .rc = -1,
	  .reason = "TABLE_DUMP: attribute length beyond record" },
	{ .what = "truncated entry", .subtype = 1, .hex = "0000 0001 03000000 08 01 3d3c",
	  .rc = -1, .reason = "TABLE_DUMP: truncated entry" },
	{ .what = "AFI 3", .subtype = 3, .hex = "0000", .rc = -1,
	  .reason = "TABLE_DUMP: unknown address family subtype" },
};

static void
test_td(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(td_cases) / sizeof(td_cases[0]); i++) {
		const struct td_case *c = &td_cases[i];
		uint8_t buf[256];
		size_t n = unhex(c->hex, buf, sizeof(buf));
		struct mrt_td t;
		struct mrt_err e = { NULL, 0 };
		int rc = mrt_td_parse(c->subtype, buf, n, &t, &e);

		print_message("table_dump: %s\n", c->what);
		assert_int_equal(rc, c->rc);
		if (rc != 0) {
			assert_string_equal(e.reason, c->reason);
			continue;
		}
		assert_int_equal(t.prefix.len, c->plen);
		assert_int_equal(t.prefix.addr[0], c->addr0);
		assert_int_equal(t.prefix.addr[1], c->addr1);
		assert_int_equal(t.peer_as, c->peer_as);
		assert_int_equal(t.attrs_len, c->attrs_len);
		assert_ptr_equal(t.attrs + t.attrs_len, buf + n);
	}
}

/* ---- PEER_INDEX_TABLE ------------------------------------------------------------- */
struct pi_case {
	const char *what;
	const char *hex;
	int rc;
	uint16_t count;
	uint32_t as_last;
	uint8_t af_last;
	const char *reason;
};

static const struct pi_case pi_cases[] = {
	{ .what = "two peers: IPv4/2-octet, IPv6/4-octet",
	  .hex = "0a001001 0006 6d6173746572 0002 "
	         "00 0a000f01 0a000f01 fdf7 "
	         "03 0a001101 20010db8001600000000000000000002 0000fdf9",
	  .rc = 0, .count = 2, .as_last = 65017, .af_last = BGP_AF_IPV6 },
	{ .what = "no peers, no view name", .hex = "0a001001 0000 0000", .rc = 0, .count = 0 },
	{ .what = "view name beyond record", .hex = "0a001001 0010 6d61", .rc = -1,
	  .reason = "PEER_INDEX_TABLE: view name beyond record" },
	{ .what = "count larger than the entries",
	  .hex = "0a001001 0000 0002 00 0a000f01 0a000f01 fdf7", .rc = -1,
	  .reason = "PEER_INDEX_TABLE: truncated peer entry" },
	{ .what = "truncated header", .hex = "0a00", .rc = -1,
	  .reason = "PEER_INDEX_TABLE: truncated header" },
};

static void
test_peer_index(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pi_cases) / sizeof(pi_cases[0]); i++) {
		const struct pi_case *c = &pi_cases[i];
		uint8_t buf[256];
		size_t n = unhex(c->hex, buf, sizeof(buf)), pos = 0;
		struct mrt_peer_index pi;
		struct mrt_peer p;
		struct mrt_err e = { NULL, 0 };
		int rc = mrt_peer_index_parse(buf, n, &pi, &e);
		unsigned k = 0;

		print_message("peer_index: %s\n", c->what);
		assert_int_equal(rc, c->rc);
		if (rc != 0) {
			assert_string_equal(e.reason, c->reason);
			continue;
		}
		assert_int_equal(pi.count, c->count);
		while (mrt_peer_index_next(&pi, &pos, &p) == 1) {
			assert_true(++k <= pi.count);
		}
		assert_int_equal(k, c->count);
		if (k > 0) {
			assert_int_equal(p.asn, c->as_last);
			assert_int_equal(p.ip.af, c->af_last);
		}
	}
}

/* ---- RIB records -------------------------------------------------------------------- */
struct rib_case {
	const char *what;
	uint16_t subtype;
	const char *hex;
	int rc;
	uint16_t count;
	uint8_t af, plen;
	uint32_t path_id_last;
	uint16_t attrs_len_last;
	const char *reason;
};

static const struct rib_case rib_cases[] = {
	{ .what = "RIB_IPV4_UNICAST two entries", .subtype = 2,
	  .hex = "00000001 18 0a000a 0002 "
	         "0000 568e4d0b 0004 40010100 "
	         "0001 568e4d0b 0000",
	  .rc = 0, .count = 2, .af = BGP_AF_IPV4, .plen = 24 },
	{ .what = "RIB_IPV6_UNICAST_ADDPATH with path ids", .subtype = 10,
	  .hex = "000000a9 30 20010db80028 0001 0001 568e5875 0000003b 0004 40010100",
	  .rc = 0, .count = 1, .af = BGP_AF_IPV6, .plen = 48, .path_id_last = 59,
	  .attrs_len_last = 4 },
	{ .what = "zero entries", .subtype = 4, .hex = "00000001 00 0000", .rc = 0, .count = 0,
	  .af = BGP_AF_IPV6, .plen = 0 },
	{ .what = "prefix length 33", .subtype = 2, .hex = "00000001 21 0a000a0000 0000",
	  .rc = -1, .reason = "RIB: bad or truncated prefix" },
	{ .what = "entry attributes beyond record", .subtype = 2,
	  .hex = "00000001 18 0a000a 0001 0000 568e4d0b 0009 4001", .rc = -1,
	  .reason = "RIB: truncated RIB entry" },
	{ .what = "entry count larger than entries", .subtype = 2,
	  .hex = "00000001 18 0a000a 0003 0000 568e4d0b 0000", .rc = -1,
	  .reason = "RIB: truncated RIB entry" },
	{ .what = "RIB_GENERIC", .subtype = 6, .hex = "00000001 0001 01 00 0000", .rc = -1,
	  .reason = "RIB_GENERIC not supported" },
	{ .what = "PEER_INDEX_TABLE is not a RIB", .subtype = 1, .hex = "00", .rc = -1,
	  .reason = "not a RIB subtype" },
};

static void
test_rib(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rib_cases) / sizeof(rib_cases[0]); i++) {
		const struct rib_case *c = &rib_cases[i];
		uint8_t buf[256];
		size_t n = unhex(c->hex, buf, sizeof(buf)), pos = 0;
		struct mrt_rib r;
		struct mrt_rib_entry re;
		struct mrt_err e = { NULL, 0 };
		int rc = mrt_rib_parse(c->subtype, buf, n, &r, &e);
		unsigned k = 0;

		print_message("rib: %s\n", c->what);
		assert_int_equal(rc, c->rc);
		if (rc != 0) {
			assert_string_equal(e.reason, c->reason);
			continue;
		}
		assert_int_equal(r.count, c->count);
		assert_int_equal(r.prefix.af, c->af);
		assert_int_equal(r.prefix.len, c->plen);
		while (mrt_rib_entry_next(&r, &pos, &re) == 1) {
			assert_true(++k <= r.count);
		}
		assert_int_equal(k, c->count);
		if (k > 0) {
			assert_int_equal(re.path_id, c->path_id_last);
			assert_int_equal(re.attrs_len, c->attrs_len_last);
		}
	}
}

/* ---- MP_REACH rewrite ------------------------------------------------------------------ */
struct expand_case {
	const char *what;
	const char *in;
	uint16_t afi;
	const char *nlri;
	int rc;
	const char *out;
	bool had_mp;
};

static const struct expand_case expand_cases[] = {
	{ .what = "no MP_REACH: copied", .in = "40010100 400200", .afi = 2, .nlri = "", .rc = 0,
	  .out = "40010100 400200" },
	{ .what = "abbreviated IPv6 next hop becomes full form",
	  .in = "40010100 800e11 10 20010db8000000000000000000000001", .afi = 2,
	  .nlri = "30 20010db80028", .rc = 0,
	  .out = "40010100 900e001c 0002 01 10 20010db8000000000000000000000001 00 "
	         "30 20010db80028",
	  .had_mp = true },
	{ .what = "full form kept", .in = "800e0900020104c0000201 00", .afi = 2, .nlri = "",
	  .rc = 0, .out = "800e0900020104c0000201 00", .had_mp = true },
	{ .what = "attribute overruns the list", .in = "40010500", .afi = 1, .nlri = "",
	  .rc = -1 },
	{ .what = "truncated extended length", .in = "5001", .afi = 1, .nlri = "", .rc = -1 },
};

static void
test_expand(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		const struct expand_case *c = &expand_cases[i];
		uint8_t in[128], nlri[32], want[160], out[160];
		size_t nin = unhex(c->in, in, sizeof(in));
		size_t nn = unhex(c->nlri, nlri, sizeof(nlri));
		size_t nout = 0, nwant;
		bool had_mp;
		int rc;

		print_message("expand: %s\n", c->what);
		rc = mrt_attrs_expand(in, nin, c->afi, 1, nlri, nn, out, sizeof(out), &nout,
		                      &had_mp);
		assert_int_equal(rc, c->rc);
		if (rc != 0)
			continue;
		nwant = unhex(c->out, want, sizeof(want));
		assert_int_equal(nout, nwant);
		assert_memory_equal(out, want, nwant);
		assert_int_equal(had_mp, c->had_mp);
	}
	/* Too small an output buffer fails instead of overflowing. */
	{
		uint8_t in[64], out[8];
		size_t nin = unhex("40010100 800e11 10 20010db8000000000000000000000001", in,
		                   sizeof(in)), nout;
		bool had_mp;

		assert_int_equal(mrt_attrs_expand(in, nin, 2, 1, NULL, 0, out, sizeof(out), &nout,
		                                  &had_mp), -1);
	}
}

/* ---- reader ------------------------------------------------------------------------------ */
/* Two BGP4MP STATE_CHANGE records (12 + 20 bytes each). */
#define REC_STATE "3d79fde0 0010 0000 00000014 0f10 fde8 0000 0001 0a000001 0a000002 0001 0002"

struct reader_case {
	const char *what;
	const char *hex;
	unsigned records;  /* records handed out */
	const char *error; /* expected error, NULL for none */
};

static const struct reader_case reader_cases[] = {
	{ .what = "two records", .hex = REC_STATE REC_STATE, .records = 2 },
	{ .what = "empty input", .hex = "", .records = 0 },
	{ .what = "unknown type is still framed", .hex = "3d79fde0 0063 0000 00000002 abcd" REC_STATE,
	  .records = 2 },
	{ .what = "truncated record", .hex = REC_STATE "3d79fde0 0010 0000 00000014 0f10",
	  .records = 1, .error = "record 2 at offset 32: truncated record at end of file" },
	{ .what = "truncated header", .hex = REC_STATE "3d79fde0 0010", .records = 1,
	  .error = "record 2 at offset 32: truncated record header at end of file" },
	{ .what = "impossible length", .hex = REC_STATE "3d79fde0 0010 0000 ffffffff 0000",
	  .records = 1, .error = "record 2 at offset 32: record length too large" },
	{ .what = "ET header cut", .hex = "3d79fde0 0011 0000 00000018 0000",
	  .records = 0, .error = "record 1 at offset 0: truncated record header at end of file" },
};

static void
test_reader_mem(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reader_cases) / sizeof(reader_cases[0]); i++) {
		const struct reader_case *c = &reader_cases[i];
		uint8_t buf[512];
		size_t n = unhex(c->hex, buf, sizeof(buf));
		struct mrt_reader *r = mrt_reader_mem(buf, n);
		struct mrt_record rec;
		unsigned got = 0, errors = 0;
		int rc;

		print_message("reader: %s\n", c->what);
		assert_non_null(r);
		for (int guard = 0; guard < 100; guard++) {
			rc = mrt_reader_next(r, &rec);
			if (rc == 0)
				break;
			if (rc == -1) {
				errors++;
				assert_non_null(c->error);
				assert_string_equal(mrt_reader_error(r), c->error);
				continue;
			}
			got++;
			assert_int_equal(rec.index, got);
			assert_true(rec.body + rec.body_len <= buf + n);
		}
		assert_int_equal(got, c->records);
		assert_int_equal(errors, c->error != NULL ? 1 : 0);
		mrt_reader_free(r);
	}
}

/* The same records through a file, compressed with bzip2 as two concatenated
 * streams (as parallel compressors write them). */
static void
test_reader_bzip2(void **state)
{
	uint8_t raw[128], comp[2][512];
	unsigned clen[2] = { sizeof(comp[0]), sizeof(comp[1]) };
	size_t n = unhex(REC_STATE REC_STATE, raw, sizeof(raw));
	char path[] = "/tmp/test_mrt_XXXXXX";
	char err[256];
	struct mrt_reader *r;
	struct mrt_record rec;
	unsigned got = 0;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(BZ2_bzBuffToBuffCompress((char *)comp[0], &clen[0], (char *)raw,
	                                          (unsigned)n, 1, 0, 0), BZ_OK);
	assert_int_equal(BZ2_bzBuffToBuffCompress((char *)comp[1], &clen[1], (char *)raw, 32,
	                                          1, 0, 0), BZ_OK);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(comp[0], 1, clen[0], f), clen[0]);
	assert_int_equal(fwrite(comp[1], 1, clen[1], f), clen[1]);
	fclose(f);
	r = mrt_reader_open(path, err, sizeof(err));
	assert_non_null(r);
	for (int guard = 0; guard < 10; guard++) {
		int rc = mrt_reader_next(r, &rec);

		if (rc == -1)
			fail_msg("%s", mrt_reader_error(r));
		if (rc == 0)
			break;
		got++;
		assert_int_equal(rec.hdr.type, MRT_TYPE_BGP4MP);
		assert_int_equal(rec.offset, (got - 1) * 32);
	}
	assert_int_equal(got, 3);
	mrt_reader_free(r);
	unlink(path);
}

/* A real gzip file: every record frames cleanly and the offsets add up. */
static void
test_reader_gzip_file(void **state)
{
	char err[256];
	struct mrt_reader *r;
	struct mrt_record rec;
	uint64_t got = 0, next_off = 0;

	(void)state;
	r = mrt_reader_open(RH_TEST_DATA "/mrt/updates.20020722.2238.gz", err, sizeof(err));
	assert_non_null(r);
	for (int guard = 0; guard < 1000000; guard++) {
		int rc = mrt_reader_next(r, &rec);

		assert_int_not_equal(rc, -1);
		if (rc == 0)
			break;
		got++;
		assert_int_equal(rec.offset, next_off);
		next_off += rec.hdr.hdr_len + rec.body_len;
		assert_int_equal(rec.hdr.type, MRT_TYPE_BGP4MP);
	}
	assert_true(got > 1000);
	assert_int_equal(mrt_reader_offset(r), next_off);
	mrt_reader_free(r);
	assert_null(mrt_reader_open("/nonexistent/file", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr),
		cmocka_unit_test(test_bgp4mp),
		cmocka_unit_test(test_td),
		cmocka_unit_test(test_peer_index),
		cmocka_unit_test(test_rib),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_reader_mem),
		cmocka_unit_test(test_reader_bzip2),
		cmocka_unit_test(test_reader_gzip_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
