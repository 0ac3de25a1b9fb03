/*
 * test_bgp_roundtrip.c — encode/decode round trips of the codec.
 *
 * (a) A seeded generator writes valid UPDATEs itself (IPv4 and IPv6 NLRI,
 *     ADD-PATH on/off, 2- or 4-octet AS, random attribute order and
 *     extended-length flags, AS4_PATH/AS4_AGGREGATOR on 2-octet sessions,
 *     communities, extended and large communities, aggregator, originator,
 *     cluster list, unknown optional transitive attributes). Each message is
 *     decoded; the canonical attributes are checked against what the
 *     generator meant (4-octet AS, type order, minimal flags, RFC 4271 §5
 *     Partial bit on unknown transitive ones); then encoded from the canonical
 *     form, decoded again, and the canonical bytes and prefixes compared.
 *     RH_SEED=n picks the seed, RH_ROUNDTRIP_CASES=n the number of cases.
 * (b) OPEN, NOTIFICATION (RFC 8203 shutdown communication), ROUTE-REFRESH
 *     (RFC 7313 BoRR/EoRR) and KEEPALIVE: encode, compare with bytes built
 *     here from the RFC layouts, decode back.
 * (c) The real capture tests/data/mrt/updates.et-header.2015.gz: every
 *     UPDATE decoded, re-encoded from its canonical attributes, and compared
 *     byte for byte with the original; the differences allowed are named and
 *     counted, any other fails the test.
 *
 * With RH_BGP_SAMPLE=FILE set, (a) and (b) also write a sample of the
 * encoded messages with the values they were meant to carry, one JSON object
 * per line, for tests/integration/test_tshark_crosscheck.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>

#include "bgp_testutil.h"

static int nfail;
#define FAILF(...)                                                               \
	do {                                                                     \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                           \
		fputc('\n', stderr);                                             \
		nfail++;                                                         \
	} while (0)

static FILE *sample; /* RH_BGP_SAMPLE */

static void
sample_hex(const uint8_t *p, size_t n)
{
	fputs("\"hex\":\"", sample);
	for (size_t i = 0; i < n; i++)
		fprintf(sample, "%02x", p[i]);
	fputc('"', sample);
}

static void
hexdump(const char *label, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu):", label, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n  ", p[i]);
	fputc('\n', stderr);
}

/* ---- random numbers (xorshift64*) ---------------------------------------------- */
static uint64_t rng;

static uint64_t
rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t
rnd(uint32_t n) /* [0, n) */
{
	return (uint32_t)(rnd64() >> 32) % n;
}

static uint32_t
rnd_asn(bool big)
{
	/* mostly small ASNs, some above 65535 (never 0, never AS_TRANS) */
	uint32_t as;
	do
		as = big && rnd(3) == 0 ? 65536 + rnd(4000000000u) : 1 + rnd(65535);
	while (as == BGP_AS_TRANS || as == 0);
	return as;
}

/* ---- the generator ------------------------------------------------------------------ */
#define G_MAXP 40
struct seg {
	uint8_t type, n;
	uint32_t as[12];
};
struct unk {
	uint8_t type;
	uint16_t len;
	uint8_t v[300];
};
struct gen {
	bool as4, ibgp, ap4, ap6;
	size_t nw4, nn4, nw6, nr6;
	struct bgp_prefix w4[G_MAXP], n4[G_MAXP], w6[G_MAXP], r6[G_MAXP];
	bool attrs;
	uint8_t origin;
	int nseg;
	struct seg seg[5];
	bool has_nh, has_med, has_lp, atomic, has_aggr, has_orig;
	uint32_t nh, med, lp, aggr_as, aggr_id, orig;
	size_t ncomm, next, nlarge, ncl, nunk;
	uint32_t comm[30], cl[8];
	uint8_t ext[12][8], large[8][12];
	struct unk unk[3];
	uint8_t v6nh_len, v6nh[32];
};

static void
gen_prefix(struct bgp_prefix *p, uint8_t af, bool addpath)
{
	unsigned bits = af == BGP_AF_IPV4 ? 32 : 128;
	memset(p, 0, sizeof(*p));
	p->af = af;
	p->len = (uint8_t)(rnd(4) == 0 ? rnd(bits + 1) : (af == BGP_AF_IPV4 ? 8 + rnd(25) : 16 + rnd(49)));
	for (unsigned i = 0; i < (p->len + 7u) / 8; i++)
		p->addr[i] = (uint8_t)rnd(256);
	if (p->len % 8)
		p->addr[p->len / 8] &= (uint8_t)(0xff << (8 - p->len % 8));
	p->path_id = addpath ? (rnd(2) ? rnd64() & 0xffffffffu : 1 + rnd(4)) : 0;
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int
cmp8(const void *a, const void *b)
{
	return memcmp(a, b, 8);
}

static int
cmp12(const void *a, const void *b)
{
	return memcmp(a, b, 12);
}

/* Sorted, duplicate-free: bgp.h leaves open whether canon sorts sets, so
 * the generator does not depend on it. */
static size_t
uniq(void *base, size_t n, size_t w, int (*cmp)(const void *, const void *))
{
	uint8_t *b = base;
	size_t k = 0;
	qsort(base, n, w, cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || memcmp(b + (k - 1) * w, b + i * w, w) != 0)
			memmove(b + k++ * w, b + i * w, w);
	return k;
}

static void
gen_update(struct gen *g)
{
	static const uint8_t unk_types[] = { 99, 150, 201, 240 };
	memset(g, 0, sizeof(*g));
	g->as4 = rnd(2);
	g->ibgp = rnd(2);
	g->ap4 = rnd(4) == 0;
	g->ap6 = rnd(4) == 0;
	g->nw4 = rnd(3) == 0 ? rnd(20) : 0;
	g->nn4 = rnd(4) ? rnd(G_MAXP) : 0;
	g->nw6 = rnd(4) == 0 ? 1 + rnd(15) : 0;
	g->nr6 = rnd(3) == 0 ? 1 + rnd(15) : 0;
	for (size_t i = 0; i < g->nw4; i++)
		gen_prefix(&g->w4[i], BGP_AF_IPV4, g->ap4);
	for (size_t i = 0; i < g->nn4; i++)
		gen_prefix(&g->n4[i], BGP_AF_IPV4, g->ap4);
	for (size_t i = 0; i < g->nw6; i++)
		gen_prefix(&g->w6[i], BGP_AF_IPV6, g->ap6);
	for (size_t i = 0; i < g->nr6; i++)
		gen_prefix(&g->r6[i], BGP_AF_IPV6, g->ap6);
	g->attrs = g->nn4 > 0 || g->nr6 > 0;
	if (!g->attrs)
		return;

	g->origin = (uint8_t)rnd(3);
	/* On a 2-octet session, confederation segments and AS4_PATH do not mix
	 * cleanly (RFC 6793 §4.2.3 merge counts): keep such paths small-AS. */
	bool confed = g->ibgp && rnd(4) == 0;
	bool big = g->as4 || !confed;
	g->nseg = (int)rnd(4);
	for (int i = 0; i < g->nseg; i++) {
		struct seg *s = &g->seg[i];
		s->type = confed && i == 0 ? (uint8_t)(3 + rnd(2)) : (rnd(5) == 0 ? 1 : 2);
		s->n = (uint8_t)(1 + rnd(12));
		for (unsigned k = 0; k < s->n; k++)
			s->as[k] = rnd_asn(big);
	}
	g->has_nh = g->nn4 > 0 || rnd(4) == 0;
	g->nh = (uint32_t)rnd64() | 1;
	g->has_med = rnd(2);
	g->med = (uint32_t)rnd64();
	g->has_lp = g->ibgp;
	g->lp = (uint32_t)rnd64();
	g->atomic = rnd(5) == 0;
	g->has_aggr = rnd(3) == 0;
	g->aggr_as = rnd_asn(true);
	g->aggr_id = (uint32_t)rnd64() | 1;
	/* RFC 6793 §4.2.3: an AGGREGATOR other than AS_TRANS makes the receiver
	 * ignore AS4_PATH only when AS4_AGGREGATOR comes too; a small
	 * aggregator AS with a wide path (AGGREGATOR alone + AS4_PATH on a
	 * 2-octet session) must keep the path. Both are generated. */
	g->ncomm = rnd(3) == 0 ? 1 + rnd(30) : 0;
	for (size_t i = 0; i < g->ncomm; i++)
		g->comm[i] = rnd(8) == 0 ? 0xffffff01u + rnd(4) : (uint32_t)rnd64();
	g->ncomm = uniq(g->comm, g->ncomm, 4, u32cmp);
	g->next = rnd(4) == 0 ? 1 + rnd(12) : 0;
	for (size_t i = 0; i < g->next; i++)
		for (int k = 0; k < 8; k++)
			g->ext[i][k] = (uint8_t)rnd(256);
	g->next = uniq(g->ext, g->next, 8, cmp8);
	g->nlarge = rnd(4) == 0 ? 1 + rnd(8) : 0;
	for (size_t i = 0; i < g->nlarge; i++)
		for (int k = 0; k < 12; k++)
			g->large[i][k] = (uint8_t)rnd(256);
	g->nlarge = uniq(g->large, g->nlarge, 12, cmp12);
	if (g->ibgp) {
		g->has_orig = rnd(2);
		g->orig = (uint32_t)rnd64() | 1;
		g->ncl = rnd(2) ? 1 + rnd(8) : 0;
		for (size_t i = 0; i < g->ncl; i++)
			g->cl[i] = (uint32_t)rnd64();
	}
	g->nunk = rnd(4) == 0 ? 1 + rnd(3) : 0;
	unsigned first = rnd(4);
	for (size_t i = 0; i < g->nunk; i++) {
		g->unk[i].type = unk_types[(first + i) % 4];
		g->unk[i].len = (uint16_t)(rnd(6) == 0 ? 256 + rnd(44) : rnd(40));
		for (unsigned k = 0; k < g->unk[i].len; k++)
			g->unk[i].v[k] = (uint8_t)rnd(256);
	}
	g->v6nh_len = rnd(3) == 0 ? 32 : 16;
	for (int k = 0; k < g->v6nh_len; k++)
		g->v6nh[k] = (uint8_t)rnd(256);
	g->v6nh[0] = 0x20;
	if (g->v6nh_len == 32) {
		g->v6nh[16] = 0xfe;
		g->v6nh[17] = 0x80;
	}
}

/* One attribute as the generator means it, before wire or canonical layout. */
struct item {
	uint8_t flags, type;
	struct tu_buf *v;
};

static void
put_prefixes(struct tu_buf *b, const struct bgp_prefix *p, size_t n, bool addpath)
{
	for (size_t i = 0; i < n; i++) {
		if (addpath)
			tu_put32(b, p[i].path_id);
		tu_put8(b, p[i].len);
		tu_putn(b, p[i].addr, (p[i].len + 7u) / 8);
	}
}

static void
put_aspath(struct tu_buf *b, const struct gen *g, bool wide, bool trans)
{
	for (int i = 0; i < g->nseg; i++) {
		tu_put8(b, g->seg[i].type);
		tu_put8(b, g->seg[i].n);
		for (unsigned k = 0; k < g->seg[i].n; k++) {
			uint32_t as = g->seg[i].as[k];
			if (wide)
				tu_put32(b, as);
			else
				tu_put16(b, trans && as > 0xffff ? BGP_AS_TRANS : as);
		}
	}
}

static bool
path_is_wide(const struct gen *g)
{
	for (int i = 0; i < g->nseg; i++)
		for (unsigned k = 0; k < g->seg[i].n; k++)
			if (g->seg[i].as[k] > 0xffff)
				return true;
	return false;
}

static struct tu_buf vbuf[24];

/* The attribute list: wire (for the session's AS width, with AS4_*) or
 * expected canonical (4-octet, no AS4_*, Partial on unknown, no MP). */
static size_t
gen_items(const struct gen *g, struct item *it, bool canonical)
{
	size_t n = 0;
	bool wide = canonical || g->as4;
#define ITEM(f, t)                                                               \
	(it[n].flags = (f), it[n].type = (t), it[n].v = &vbuf[n], vbuf[n].len = 0, \
	 &vbuf[n++])
	struct tu_buf *v;

	if (!g->attrs)
		return 0;
	v = ITEM(0x40, BGP_ATTR_ORIGIN);
	tu_put8(v, g->origin);
	v = ITEM(0x40, BGP_ATTR_AS_PATH);
	put_aspath(v, g, wide, true);
	if (!wide && path_is_wide(g)) {
		v = ITEM(0xc0, BGP_ATTR_AS4_PATH);
		put_aspath(v, g, true, false);
	}
	if (g->has_nh) {
		v = ITEM(0x40, BGP_ATTR_NEXT_HOP);
		tu_put32(v, g->nh);
	}
	if (g->has_med) {
		v = ITEM(0x80, BGP_ATTR_MED);
		tu_put32(v, g->med);
	}
	if (g->has_lp) {
		v = ITEM(0x40, BGP_ATTR_LOCAL_PREF);
		tu_put32(v, g->lp);
	}
	if (g->atomic)
		ITEM(0x40, BGP_ATTR_ATOMIC_AGGREGATE);
	if (g->has_aggr) {
		v = ITEM(0xc0, BGP_ATTR_AGGREGATOR);
		if (wide) {
			tu_put32(v, g->aggr_as);
		} else {
			tu_put16(v, g->aggr_as > 0xffff ? BGP_AS_TRANS : g->aggr_as);
		}
		tu_put32(v, g->aggr_id);
		if (!wide && g->aggr_as > 0xffff) {
			v = ITEM(0xc0, BGP_ATTR_AS4_AGGREGATOR);
			tu_put32(v, g->aggr_as);
			tu_put32(v, g->aggr_id);
		}
	}
	if (g->ncomm) {
		v = ITEM(0xc0, BGP_ATTR_COMMUNITIES);
		for (size_t i = 0; i < g->ncomm; i++)
			tu_put32(v, g->comm[i]);
	}
	if (g->has_orig) {
		v = ITEM(0x80, BGP_ATTR_ORIGINATOR_ID);
		tu_put32(v, g->orig);
	}
	if (g->ncl) {
		v = ITEM(0x80, BGP_ATTR_CLUSTER_LIST);
		for (size_t i = 0; i < g->ncl; i++)
			tu_put32(v, g->cl[i]);
	}
	if (g->next) {
		v = ITEM(0xc0, BGP_ATTR_EXT_COMMUNITIES);
		tu_putn(v, g->ext, 8 * g->next);
	}
	if (g->nlarge) {
		v = ITEM(0xc0, BGP_ATTR_LARGE_COMMUNITY);
		tu_putn(v, g->large, 12 * g->nlarge);
	}
	for (size_t i = 0; i < g->nunk; i++) {
		/* RFC 4271 §5: passed on with the Partial bit set */
		v = ITEM(canonical ? 0xe0 : (rnd(2) ? 0xe0 : 0xc0), g->unk[i].type);
		tu_putn(v, g->unk[i].v, g->unk[i].len);
	}
	if (!canonical && g->nr6) {
		v = ITEM(0x80, BGP_ATTR_MP_REACH_NLRI);
		tu_put16(v, BGP_AFI_IPV6);
		tu_put8(v, BGP_SAFI_UNICAST);
		tu_put8(v, g->v6nh_len);
		tu_putn(v, g->v6nh, g->v6nh_len);
		tu_put8(v, 0);
		put_prefixes(v, g->r6, g->nr6, g->ap6);
	}
#undef ITEM
	return n;
}

static void
put_attr(struct tu_buf *b, uint8_t flags, uint8_t type, const uint8_t *v, size_t len, bool ext)
{
	if (len > 255 || ext) {
		tu_put8(b, flags | BGP_ATTR_FLAG_EXTLEN);
		tu_put8(b, type);
		tu_put16(b, (unsigned)len);
	} else {
		tu_put8(b, flags);
		tu_put8(b, type);
		tu_put8(b, (unsigned)len);
	}
	tu_putn(b, v, len);
}

static struct tu_buf wire, expect_canon, got_canon;

/* Build the generator's UPDATE: attributes in random order, some short ones
 * with the extended-length flag. */
static void
gen_wire(const struct gen *g)
{
	struct item it[24], tmp;
	size_t n = gen_items(g, it, false), at;

	if (g->nw6) { /* MP_UNREACH_NLRI rides along as one more item */
		struct tu_buf *v = &vbuf[n];
		v->len = 0;
		tu_put16(v, BGP_AFI_IPV6);
		tu_put8(v, BGP_SAFI_UNICAST);
		put_prefixes(v, g->w6, g->nw6, g->ap6);
		it[n++] = (struct item){ .flags = 0x80, .type = BGP_ATTR_MP_UNREACH_NLRI, .v = v };
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd((uint32_t)i);
		tmp = it[i - 1];
		it[i - 1] = it[j];
		it[j] = tmp;
	}
	tu_msg_begin(&wire, BGP_MSG_UPDATE);
	at = wire.len;
	tu_put16(&wire, 0);
	put_prefixes(&wire, g->w4, g->nw4, g->ap4);
	tu_set16(&wire, at, (unsigned)(wire.len - at - 2));
	at = wire.len;
	tu_put16(&wire, 0);
	for (size_t i = 0; i < n; i++)
		put_attr(&wire, it[i].flags, it[i].type, it[i].v->b, it[i].v->len, rnd(4) == 0);
	tu_set16(&wire, at, (unsigned)(wire.len - at - 2));
	put_prefixes(&wire, g->n4, g->nn4, g->ap4);
	tu_msg_end(&wire);
}

static void
gen_expect_canon(const struct gen *g)
{
	struct item it[24];
	size_t n = gen_items(g, it, true);

	/* canonical order: by type code */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && it[j - 1].type > it[j].type; j--) {
			struct item t = it[j];
			it[j] = it[j - 1];
			it[j - 1] = t;
		}
	expect_canon.len = 0;
	for (size_t i = 0; i < n; i++)
		put_attr(&expect_canon, it[i].flags, it[i].type, it[i].v->b, it[i].v->len, false);
}

/* The non-MP attributes of a canonical sequence, re-serialised with minimal
 * lengths; flags are kept as they are (the comparison checks them). */
static int
canon_strip_mp(const uint8_t *c, size_t len, struct tu_buf *out, struct bgp_attr *mp)
{
	struct bgp_attr_iter it = { .p = c, .len = len, .pos = 0 };
	struct bgp_attr a;
	int r;

	out->len = 0;
	memset(mp, 0, sizeof(*mp));
	while ((r = bgp_attr_next(&it, &a)) == 1) {
		if (a.type == BGP_ATTR_MP_REACH_NLRI) {
			*mp = a;
			continue;
		}
		if ((a.flags & BGP_ATTR_FLAG_EXTLEN) != (a.len > 255 ? BGP_ATTR_FLAG_EXTLEN : 0))
			return -2; /* not minimal */
		put_attr(out, a.flags & (uint8_t)~BGP_ATTR_FLAG_EXTLEN, a.type, a.val, a.len, false);
	}
	return r;
}

static size_t
collect(const struct bgp_nlri *n, struct bgp_prefix *out, size_t cap)
{
	size_t k = tu_nlri_collect(n, out, cap);
	if (k > cap)
		TU_DIE("more than %zu prefixes", cap);
	return k;
}

static bool
same_prefixes(const struct bgp_prefix *a, size_t na, const struct bgp_prefix *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!tu_prefix_eq(&a[i], &b[i]))
			return false;
	return true;
}

static uint8_t canon1[BGP_CANON_MAX], canon2[BGP_CANON_MAX];
static uint8_t enc[BGP_MAX_EXT_MSG];

static bool
sample_update(const struct gen *g, const uint8_t *m, size_t len)
{
	char s[64];
	/* tshark cannot know ADD-PATH or the AS width (it is told 4 octets):
	 * sample only 4-octet sessions without path identifiers. */
	if (!g->as4 || g->ap4 || g->ap6)
		return false;
	fputc('{', sample);
	sample_hex(m, len);
	fprintf(sample, ",\"type\":2,\"length\":%zu", len);
	const struct {
		const char *name;
		const struct bgp_prefix *p;
		size_t n;
	} lists[] = { { "withdrawn", g->w4, g->nw4 }, { "nlri", g->n4, g->nn4 },
		      { "mp_unreach", g->w6, g->nw6 }, { "mp_reach", g->r6, g->nr6 } };
	for (size_t l = 0; l < 4; l++) {
		fprintf(sample, ",\"%s\":[", lists[l].name);
		for (size_t i = 0; i < lists[l].n; i++) {
			tu_prefix_str(&lists[l].p[i], s, sizeof(s));
			fprintf(sample, "%s\"%s\"", i ? "," : "", s);
		}
		fputc(']', sample);
	}
	if (g->attrs) {
		fprintf(sample, ",\"origin\":%u,\"as_path\":[", g->origin);
		for (int i = 0; i < g->nseg; i++) {
			fprintf(sample, "%s{\"type\":%u,\"as\":[", i ? "," : "", g->seg[i].type);
			for (unsigned k = 0; k < g->seg[i].n; k++)
				fprintf(sample, "%s%u", k ? "," : "", g->seg[i].as[k]);
			fputs("]}", sample);
		}
		fputc(']', sample);
	}
	if (g->attrs && g->has_nh)
		fprintf(sample, ",\"next_hop\":\"%u.%u.%u.%u\"", g->nh >> 24, g->nh >> 16 & 0xff,
		        g->nh >> 8 & 0xff, g->nh & 0xff);
	if (g->attrs && g->has_med)
		fprintf(sample, ",\"med\":%u", g->med);
	if (g->attrs && g->has_lp)
		fprintf(sample, ",\"local_pref\":%u", g->lp);
	if (g->attrs && g->ncomm) {
		fputs(",\"communities\":[", sample);
		for (size_t i = 0; i < g->ncomm; i++)
			fprintf(sample, "%s\"%u:%u\"", i ? "," : "", g->comm[i] >> 16, g->comm[i] & 0xffff);
		fputc(']', sample);
	}
	fputs("}\n", sample);
	return true;
}

static unsigned
env_uint(const char *name, unsigned dflt)
{
	const char *v = getenv(name);
	return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

static void
test_generated(void **state)
{
	static struct gen g;
	static struct bgp_prefix p1[4][G_MAXP], p2[4][G_MAXP];
	unsigned seed = env_uint("RH_SEED", 20240607), ncases = env_uint("RH_ROUNDTRIP_CASES", 10000);
	unsigned done = 0, n_addpath = 0, n_2oct = 0, n_v6 = 0, n_unk = 0, n_sampled = 0;
	(void)state;
	nfail = 0;

	rng = 0x9E3779B97F4A7C15ULL ^ seed;
	printf("roundtrip: seed %u (RH_SEED), %u cases\n", seed, ncases);
	for (unsigned cs = 0; cs < ncases && nfail < 20; cs++) {
		struct bgp_sess s;
		struct bgp_update u, u2;
		size_t clen1, clen2, elen;

		do {
			gen_update(&g);
			gen_wire(&g);
		} while (wire.len > 3800);
		gen_expect_canon(&g);

		tu_sess(&s, g.as4, g.ibgp);
		s.addpath_rx[BGP_AF_IPV4] = s.addpath_tx[BGP_AF_IPV4] = g.ap4;
		s.addpath_rx[BGP_AF_IPV6] = s.addpath_tx[BGP_AF_IPV6] = g.ap6;

		if (bgp_update_decode(wire.b, wire.len, &s, &u) != 0 || u.action != BGP_ACT_OK) {
			FAILF("case %u: generated update: action %s (%s)", cs, bgp_action_name(u.action),
			      u.err.reason ? u.err.reason : "");
			hexdump("message", wire.b, wire.len);
			continue;
		}
		size_t n1[4] = { collect(&u.withdrawn, p1[0], G_MAXP), collect(&u.nlri, p1[1], G_MAXP),
			         collect(&u.mp_unreach, p1[2], G_MAXP), collect(&u.mp_reach, p1[3], G_MAXP) };
		if (!same_prefixes(p1[0], n1[0], g.w4, g.nw4) || !same_prefixes(p1[1], n1[1], g.n4, g.nn4) ||
		    !same_prefixes(p1[2], n1[2], g.w6, g.nw6) || !same_prefixes(p1[3], n1[3], g.r6, g.nr6)) {
			FAILF("case %u: decoded prefixes differ from the generated ones", cs);
			hexdump("message", wire.b, wire.len);
			continue;
		}
		if (bgp_attrs_canon(&u, canon1, sizeof(canon1), &clen1) != 0) {
			FAILF("case %u: canon failed", cs);
			continue;
		}
		struct bgp_attr mp;
		int r = canon_strip_mp(canon1, clen1, &got_canon, &mp);
		if (r != 0) {
			FAILF("case %u: canonical form %s", cs, r == -2 ? "has a non-minimal length flag"
			                                              : "does not parse");
			hexdump("canon", canon1, clen1);
			continue;
		}
		if (got_canon.len != expect_canon.len ||
		    memcmp(got_canon.b, expect_canon.b, got_canon.len) != 0) {
			FAILF("case %u: canonical attributes differ from the generator's", cs);
			hexdump("message", wire.b, wire.len);
			hexdump("expected (non-MP)", expect_canon.b, expect_canon.len);
			hexdump("canon (non-MP)", got_canon.b, got_canon.len);
			continue;
		}
		if (g.nr6 && (u.attrs.mp_nh_len != g.v6nh_len ||
		              memcmp(u.attrs.mp_nh, g.v6nh, g.v6nh_len) != 0 || mp.val == NULL)) {
			FAILF("case %u: IPv6 next hop lost (len %u, canon MP_REACH %s)", cs,
			      u.attrs.mp_nh_len, mp.val ? "present" : "absent");
			continue;
		}

		struct bgp_update_spec spec = {
			.withdrawn = p1[0], .n_withdrawn = n1[0], .nlri = p1[1], .n_nlri = n1[1],
			.mp_unreach = p1[2], .n_mp_unreach = n1[2],
			.mp_unreach_af = n1[2] ? BGP_AF_IPV6 : -1,
			.mp_reach = p1[3], .n_mp_reach = n1[3],
			.attrs = g.attrs ? canon1 : NULL, .attrs_len = g.attrs ? clen1 : 0,
		};
		if (bgp_update_encode(&spec, &s, enc, sizeof(enc), &elen) != 0) {
			FAILF("case %u: encode failed (%zu octets on the wire originally)", cs, wire.len);
			continue;
		}
		/* The encoding is a valid message: header, and MP attributes first
		 * (RFC 7606 §5.1), the others in type order (bgp.h). */
		uint8_t type;
		uint16_t mlen;
		struct bgp_error err;
		if (bgp_hdr_check(enc, elen, bgp_sess_max_msg(&s), &type, &mlen, &err) != 0 ||
		    type != BGP_MSG_UPDATE || mlen != elen) {
			FAILF("case %u: encoded header invalid", cs);
			continue;
		}
		{
			size_t wl = (size_t)(enc[19] << 8 | enc[20]);
			size_t al = (size_t)(enc[21 + wl] << 8 | enc[22 + wl]);
			struct bgp_attr_iter it = { .p = enc + 23 + wl, .len = al, .pos = 0 };
			struct bgp_attr a;
			int last = -1;
			bool non_mp_seen = false;
			while (bgp_attr_next(&it, &a) == 1) {
				bool is_mp = a.type == BGP_ATTR_MP_REACH_NLRI ||
				             a.type == BGP_ATTR_MP_UNREACH_NLRI;
				if (is_mp && non_mp_seen)
					FAILF("case %u: MP attribute after another attribute", cs);
				if (!is_mp) {
					if ((int)a.type <= last)
						FAILF("case %u: attribute %u after %d", cs, a.type, last);
					last = a.type;
					non_mp_seen = true;
				}
			}
		}
		if (bgp_update_decode(enc, elen, &s, &u2) != 0 || u2.action != BGP_ACT_OK) {
			FAILF("case %u: re-decode: action %s (%s)", cs, bgp_action_name(u2.action),
			      u2.err.reason ? u2.err.reason : "");
			hexdump("encoded", enc, elen);
			continue;
		}
		size_t n2[4] = { collect(&u2.withdrawn, p2[0], G_MAXP), collect(&u2.nlri, p2[1], G_MAXP),
			         collect(&u2.mp_unreach, p2[2], G_MAXP), collect(&u2.mp_reach, p2[3], G_MAXP) };
		for (int l = 0; l < 4; l++)
			if (!same_prefixes(p1[l], n1[l], p2[l], n2[l]))
				FAILF("case %u: prefix run %d differs after re-encoding", cs, l);
		if (bgp_attrs_canon(&u2, canon2, sizeof(canon2), &clen2) != 0 || clen1 != clen2 ||
		    memcmp(canon1, canon2, clen1) != 0) {
			FAILF("case %u: canonical attributes differ after re-encoding", cs);
			hexdump("original", wire.b, wire.len);
			hexdump("encoded", enc, elen);
			hexdump("canon 1", canon1, clen1);
			hexdump("canon 2", canon2, clen2);
			continue;
		}
		if (bgp_attrs_hash(canon1, clen1) != bgp_attrs_hash(canon2, clen2))
			FAILF("case %u: equal canonical bytes, different hashes", cs);
		if (sample && n_sampled < 300 && sample_update(&g, enc, elen))
			n_sampled++;
		done++;
		n_addpath += g.ap4 || g.ap6;
		n_2oct += !g.as4;
		n_v6 += g.nr6 || g.nw6;
		n_unk += g.nunk > 0;
	}
	printf("roundtrip: %u cases ok (%u ADD-PATH, %u 2-octet, %u IPv6, %u unknown attrs)\n", done,
	       n_addpath, n_2oct, n_v6, n_unk);
	if (nfail)
		fail_msg("%d failures", nfail);
}

/* ---- (b) the other message types ----------------------------------------------------- */
static struct tu_buf want;

static void
expect_bytes(const char *what, const uint8_t *got, size_t n)
{
	if (n != want.len || memcmp(got, want.b, n) != 0) {
		FAILF("%s: encoding differs from the RFC layout", what);
		hexdump("want", want.b, want.len);
		hexdump("got", got, n);
	}
}

static void
sample_msg(const uint8_t *m, size_t len)
{
	if (!sample)
		return;
	fputc('{', sample);
	sample_hex(m, len);
	fprintf(sample, ",\"type\":%u,\"length\":%zu}\n", m[18], len);
}

static void
test_keepalive(void **state)
{
	uint8_t out[64];
	size_t n;
	(void)state;
	nfail = 0;
	assert_int_equal(bgp_keepalive_encode(out, sizeof(out), &n), 0);
	tu_msg_begin(&want, BGP_MSG_KEEPALIVE); /* RFC 4271 §4.4: header only */
	tu_msg_end(&want);
	expect_bytes("KEEPALIVE", out, n);
	assert_int_equal(bgp_keepalive_encode(out, 18, &n), -1);
	sample_msg(out, n);
	if (nfail)
		fail_msg("%d failures", nfail);
}

struct notify_case {
	const char *what;
	uint8_t code, sub;
	const char *data;
};

static const struct notify_case notify_cases[] = {
	{ "hold timer expired", BGP_ERR_HOLD, 0, "" },
	{ "bad message length", BGP_ERR_HEADER, BGP_ERR_HDR_LENGTH, "1001" },
	{ "unsupported version", BGP_ERR_OPEN, BGP_ERR_OPEN_VERSION, "0004" },
	{ "malformed attribute list", BGP_ERR_UPDATE, BGP_ERR_UPD_ATTRLIST, "" },
	{ "optional attribute error", BGP_ERR_UPDATE, BGP_ERR_UPD_OPTATTR, "800e03000201" },
	{ "FSM error in OpenConfirm (RFC 6608)", BGP_ERR_FSM, BGP_ERR_FSM_OPENCONFIRM, "" },
	{ "cease max prefix (RFC 4486)", BGP_ERR_CEASE, BGP_ERR_CEASE_MAX_PREFIX, "0001010000c350" },
	{ "cease hard reset (RFC 8538)", BGP_ERR_CEASE, BGP_ERR_CEASE_HARD_RESET, "0604" },
};

static void
test_notification(void **state)
{
	uint8_t out[4096], data[256];
	size_t n;
	(void)state;
	nfail = 0;

	for (size_t i = 0; i < sizeof(notify_cases) / sizeof(notify_cases[0]); i++) {
		const struct notify_case *c = &notify_cases[i];
		size_t dl = tu_hex(c->data, data, sizeof(data));
		struct bgp_notify nt;
		struct bgp_error err;

		if (bgp_notify_encode(c->code, c->sub, data, dl, out, sizeof(out), &n) != 0) {
			FAILF("%s: encode failed", c->what);
			continue;
		}
		/* RFC 4271 §4.5: code, subcode, data */
		tu_msg_begin(&want, BGP_MSG_NOTIFICATION);
		tu_put8(&want, c->code);
		tu_put8(&want, c->sub);
		tu_putn(&want, data, dl);
		tu_msg_end(&want);
		expect_bytes(c->what, out, n);
		memset(&nt, 0, sizeof(nt));
		if (bgp_notify_decode(out, n, &nt, &err) != 0 || nt.code != c->code ||
		    nt.subcode != c->sub || nt.data_len != dl || memcmp(nt.data, data, dl) != 0)
			FAILF("%s: decode differs", c->what);
		sample_msg(out, n);
	}

	/* RFC 8203 §2 (length extended to 255 by RFC 9003 §2): Cease with a
	 * length-prefixed UTF-8 shutdown communication. */
	static const struct {
		const char *what, *msg;
		uint8_t sub;
		size_t want_len; /* octets kept */
	} sd[] = {
		{ "shutdown with a message", "planned maintenance, back 10:00 UTC", 2, 35 },
		{ "reset with an empty message", "", 4, 0 },
		{ "UTF-8 message", "Wartungsarbeiten \xc3\xbc\xc3\xa4", 2, 21 },
	};
	for (size_t i = 0; i < sizeof(sd) / sizeof(sd[0]); i++) {
		struct bgp_notify nt;
		struct bgp_error err;
		if (bgp_notify_encode_shutdown(sd[i].sub, sd[i].msg, out, sizeof(out), &n) != 0) {
			FAILF("%s: encode failed", sd[i].what);
			continue;
		}
		tu_msg_begin(&want, BGP_MSG_NOTIFICATION);
		tu_put8(&want, BGP_ERR_CEASE);
		tu_put8(&want, sd[i].sub);
		tu_put8(&want, (unsigned)sd[i].want_len);
		tu_putn(&want, sd[i].msg, sd[i].want_len);
		tu_msg_end(&want);
		expect_bytes(sd[i].what, out, n);
		memset(&nt, 0, sizeof(nt));
		if (bgp_notify_decode(out, n, &nt, &err) != 0 || strcmp(nt.shutdown_msg, sd[i].msg) != 0)
			FAILF("%s: shutdown message \"%s\" after decode", sd[i].what, nt.shutdown_msg);
		sample_msg(out, n);
	}

	/* Truncation to 255 octets on a UTF-8 boundary: 254 'a' then a
	 * 2-octet character must keep 254 octets, not split the character. */
	char longmsg[400];
	memset(longmsg, 'a', 254);
	memcpy(longmsg + 254, "\xc3\xa9", 3);
	if (bgp_notify_encode_shutdown(2, longmsg, out, sizeof(out), &n) != 0) {
		FAILF("long shutdown message: encode failed");
	} else {
		if (out[21] != 254 || n != 22 + 254u)
			FAILF("long shutdown message: %u octets kept, want 254", out[21]);
	}
	memset(longmsg, 'b', 300);
	longmsg[300] = '\0';
	if (bgp_notify_encode_shutdown(2, longmsg, out, sizeof(out), &n) != 0 || out[21] != 255)
		FAILF("300-octet ASCII shutdown message: not cut at 255");
	if (nfail)
		fail_msg("%d failures", nfail);
}

static void
test_rrefresh(void **state)
{
	static const struct bgp_rrefresh rr[] = {
		{ .afi = 1, .subtype = BGP_RR_NORMAL, .safi = 1 },
		{ .afi = 1, .subtype = BGP_RR_BORR, .safi = 1 },
		{ .afi = 2, .subtype = BGP_RR_EORR, .safi = 1 },
	};
	uint8_t out[64];
	size_t n;
	(void)state;
	nfail = 0;

	for (size_t i = 0; i < sizeof(rr) / sizeof(rr[0]); i++) {
		struct bgp_rrefresh d;
		struct bgp_error err;
		char what[64];
		snprintf(what, sizeof(what), "ROUTE-REFRESH %u/%u subtype %u", rr[i].afi, rr[i].safi,
		         rr[i].subtype);
		if (bgp_rrefresh_encode(&rr[i], out, sizeof(out), &n) != 0) {
			FAILF("%s: encode failed", what);
			continue;
		}
		/* RFC 2918 §3, RFC 7313 §3: AFI, subtype (was Reserved), SAFI */
		tu_msg_begin(&want, BGP_MSG_ROUTE_REFRESH);
		tu_put16(&want, rr[i].afi);
		tu_put8(&want, rr[i].subtype);
		tu_put8(&want, rr[i].safi);
		tu_msg_end(&want);
		expect_bytes(what, out, n);
		if (bgp_rrefresh_decode(out, n, &d, &err) != 0 || d.afi != rr[i].afi ||
		    d.safi != rr[i].safi || d.subtype != rr[i].subtype)
			FAILF("%s: decode differs", what);
		sample_msg(out, n);
	}
	if (nfail)
		fail_msg("%d failures", nfail);
}

struct open_case {
	const char *what;
	struct bgp_open o;
};

static void
test_open(void **state)
{
	static struct open_case cases[4];
	uint8_t out[4096];
	size_t n;
	(void)state;
	nfail = 0;

	memset(cases, 0, sizeof(cases));
	cases[0].what = "no capabilities";
	cases[0].o = (struct bgp_open){ .version = 4, .my_as = 65001, .asn = 65001, .hold_time = 180,
		                        .bgp_id = 0xc0000201u };
	cases[1].what = "4-octet AS, MP both families, route refresh";
	cases[1].o = (struct bgp_open){ .version = 4, .my_as = BGP_AS_TRANS, .asn = 4200000001u,
		                        .hold_time = 90, .bgp_id = 0x0a000001u,
		                        .caps = BGP_CAPF_AS4 | BGP_CAPF_MP | BGP_CAPF_RREFRESH,
		                        .mp = { 1, 1 } };
	cases[2].what = "everything we know";
	cases[2].o = (struct bgp_open){
		.version = 4, .my_as = 64512, .asn = 64512, .hold_time = 3, .bgp_id = 0x01020304u,
		.caps = BGP_CAPF_AS4 | BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_EXTMSG |
		        BGP_CAPF_GR | BGP_CAPF_ADDPATH | BGP_CAPF_ERR | BGP_CAPF_FQDN,
		.mp = { 1, 1 }, .addpath = { 3, 1 },
	};
	cases[2].o.gr.restart_time = 120;
	cases[2].o.gr.af[BGP_AF_IPV4] = 1;
	cases[2].o.gr.af[BGP_AF_IPV6] = 1;
	cases[2].o.gr.af_flags[BGP_AF_IPV4] = 0x80;
	strcpy(cases[2].o.fqdn_host, "rtr1");
	strcpy(cases[2].o.fqdn_domain, "example.net");
	cases[3].what = "hold time 0, 2-octet AS with AS4 capability";
	cases[3].o = (struct bgp_open){ .version = 4, .my_as = 65000, .asn = 65000, .hold_time = 0,
		                        .bgp_id = 0xc6336401u, .caps = BGP_CAPF_AS4 | BGP_CAPF_MP,
		                        .mp = { 1, 0 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bgp_open *o = &cases[i].o;
		struct bgp_open d;
		struct bgp_error err;
		uint8_t type;
		uint16_t mlen;
		const char *what = cases[i].what;

		if (bgp_open_encode(o, out, sizeof(out), &n) != 0) {
			FAILF("%s: encode failed", what);
			continue;
		}
		if (bgp_hdr_check(out, n, BGP_MAX_MSG, &type, &mlen, &err) != 0 || type != BGP_MSG_OPEN ||
		    mlen != n) {
			FAILF("%s: bad header", what);
			continue;
		}
		/* RFC 4271 §4.2 fixed fields, from the bytes themselves */
		if (out[19] != 4 || (out[20] << 8 | out[21]) != o->my_as ||
		    (out[22] << 8 | out[23]) != o->hold_time ||
		    ((uint32_t)out[24] << 24 | (uint32_t)out[25] << 16 | (uint32_t)out[26] << 8 | out[27]) !=
		            o->bgp_id ||
		    out[28] + 29u != n)
			FAILF("%s: fixed fields wrong on the wire", what);
		memset(&d, 0, sizeof(d));
		if (bgp_open_decode(out, n, &d, &err) != 0) {
			FAILF("%s: decode failed: %s", what, err.reason);
			continue;
		}
		if (d.version != 4 || d.my_as != o->my_as || d.asn != o->asn ||
		    d.hold_time != o->hold_time || d.bgp_id != o->bgp_id)
			FAILF("%s: fixed fields differ", what);
		if (d.caps != o->caps)
			FAILF("%s: capabilities %#x, want %#x", what, d.caps, o->caps);
		if (memcmp(d.mp, o->mp, sizeof(d.mp)) || memcmp(d.addpath, o->addpath, sizeof(d.addpath)))
			FAILF("%s: MP or ADD-PATH families differ", what);
		if ((o->caps & BGP_CAPF_GR) &&
		    (d.gr.restart_time != o->gr.restart_time || memcmp(d.gr.af, o->gr.af, sizeof(d.gr.af)) ||
		     memcmp(d.gr.af_flags, o->gr.af_flags, sizeof(d.gr.af_flags))))
			FAILF("%s: graceful restart differs", what);
		if (strcmp(d.fqdn_host, o->fqdn_host) || strcmp(d.fqdn_domain, o->fqdn_domain))
			FAILF("%s: FQDN differs", what);
		if (d.n_unknown != 0)
			FAILF("%s: %u unknown capabilities after our own encoding", what, d.n_unknown);
		sample_msg(out, n);
	}
	if (nfail)
		fail_msg("%d failures", nfail);
}

/* ---- (c) the real capture ------------------------------------------------------------------ */
struct wattr {
	uint8_t flags, type;
	uint16_t len;
	const uint8_t *val;
};

static size_t
split_attrs(const uint8_t *p, size_t len, struct wattr *out, size_t cap)
{
	struct bgp_attr_iter it = { .p = p, .len = len, .pos = 0 };
	struct bgp_attr a;
	size_t n = 0;
	while (n < cap && bgp_attr_next(&it, &a) == 1)
		out[n++] = (struct wattr){ a.flags, a.type, a.len, a.val };
	return n;
}

enum diffkind {
	D_IDENTICAL,
	D_EXTLEN,    /* extended-length flag on an attribute shorter than 256 */
	D_ORDER,     /* attribute order (bgp.h: MP first, then type order) */
	D_MP_FIRST,  /* MP_REACH/MP_UNREACH not first in the original */
	D_PARTIAL,   /* Partial bit set on an unknown transitive (RFC 4271 §5) */
	D_HOSTBITS,  /* NLRI host bits cleared (RFC 4271 §4.3) */
	D_DISCARD,   /* attribute dropped by attribute discard (RFC 7606 §2, RFC 7607) */
	D_MAX,
};
static const char *const diffname[D_MAX] = {
	"identical", "extended-length flag on a short attribute", "attribute order",
	"MP attribute not first", "Partial bit set on an unknown transitive attribute",
	"NLRI host bits cleared", "attribute discarded (RFC 7606/7607) and not re-sent",
};

/* Compare original and re-encoded UPDATE; set bits of the named differences
 * seen; return false if some difference is none of them. */
static bool
explain(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint64_t discarded,
        unsigned *kinds, char *why, size_t whycap)
{
	static struct wattr wa[64], wb[64];
	size_t awl = (size_t)(a[19] << 8 | a[20]), bwl = (size_t)(b[19] << 8 | b[20]);
	size_t aal = (size_t)(a[21 + awl] << 8 | a[22 + awl]), bal = (size_t)(b[21 + bwl] << 8 | b[22 + bwl]);
	const uint8_t *an = a + 23 + awl + aal, *bn = b + 23 + bwl + bal;
	size_t anl = alen - 23 - awl - aal, bnl = blen - 23 - bwl - bal;

	*kinds = 0;
	if (alen == blen && memcmp(a, b, alen) == 0) {
		*kinds = 1u << D_IDENTICAL;
		return true;
	}
	if (awl != bwl || memcmp(a + 21, b + 21, awl) != 0 || anl != bnl || memcmp(an, bn, anl) != 0) {
		/* equal lengths with differing octets could only be host bits;
		 * the decoder clears them (RFC 4271 §4.3) */
		if (awl == bwl && anl == bnl) {
			*kinds |= 1u << D_HOSTBITS;
		} else {
			snprintf(why, whycap, "withdrawn/NLRI fields differ in length");
			return false;
		}
	}
	size_t na = split_attrs(a + 23 + awl, aal, wa, 64), nb = split_attrs(b + 23 + bwl, bal, wb, 64);
	size_t lost = 0;
	for (size_t i = 0; i < na; i++) {
		size_t j;
		for (j = 0; j < nb && wb[j].type != wa[i].type; j++)
			;
		if (j == nb) {
			if (wa[i].type < 64 && (discarded & (1ull << wa[i].type))) {
				*kinds |= 1u << D_DISCARD;
				lost++;
				continue;
			}
			snprintf(why, whycap, "attribute %u lost", wa[i].type);
			return false;
		}
		if (i - lost != j)
			*kinds |= 1u << D_ORDER;
		if (wa[i].len != wb[j].len || memcmp(wa[i].val, wb[j].val, wa[i].len) != 0) {
			snprintf(why, whycap, "attribute %u value differs", wa[i].type);
			return false;
		}
		uint8_t fx = wa[i].flags ^ wb[j].flags;
		if (fx & BGP_ATTR_FLAG_EXTLEN) {
			if (wb[j].len > 255 || (wb[j].flags & BGP_ATTR_FLAG_EXTLEN)) {
				snprintf(why, whycap, "attribute %u extended-length flag", wa[i].type);
				return false;
			}
			*kinds |= 1u << D_EXTLEN;
			fx &= (uint8_t)~BGP_ATTR_FLAG_EXTLEN;
		}
		if (fx == BGP_ATTR_FLAG_PARTIAL && (wb[j].flags & BGP_ATTR_FLAG_PARTIAL) &&
		    (wa[i].flags & 0xc0) == 0xc0) {
			*kinds |= 1u << D_PARTIAL;
			fx = 0;
		}
		if (fx) {
			snprintf(why, whycap, "attribute %u flags %02x became %02x", wa[i].type, wa[i].flags,
			         wb[j].flags);
			return false;
		}
		if (i != j && (wa[i].type == BGP_ATTR_MP_REACH_NLRI ||
		               wa[i].type == BGP_ATTR_MP_UNREACH_NLRI))
			*kinds |= 1u << D_MP_FIRST;
	}
	if (na - lost != nb) {
		snprintf(why, whycap, "%zu attributes became %zu", na, nb);
		return false;
	}
	if (*kinds == 0) {
		snprintf(why, whycap, "unexplained");
		return false;
	}
	return true;
}

/* Does the attribute of this type in the message carry AS 0 (RFC 7607)? Own
 * walk over the octets, independent of the codec. */
static bool
wire_has_as0(const uint8_t *m, uint8_t type, bool as4)
{
	size_t wl = (size_t)(m[19] << 8 | m[20]);
	size_t al = (size_t)(m[21 + wl] << 8 | m[22 + wl]);
	const uint8_t *p = m + 23 + wl, *end = p + al;
	size_t w = as4 ? 4 : 2;

	while (p + 3 <= end) {
		size_t hl = p[0] & BGP_ATTR_FLAG_EXTLEN ? 4 : 3;
		size_t len = hl == 4 ? (size_t)(p[2] << 8 | p[3]) : p[2];
		const uint8_t *v = p + hl;
		if (v + len > end)
			return false;
		if (p[1] == type && type == BGP_ATTR_AGGREGATOR)
			return len >= w && (w == 4 ? (v[0] | v[1] | v[2] | v[3]) == 0 : (v[0] | v[1]) == 0);
		if (p[1] == type && type == BGP_ATTR_AS_PATH) {
			for (size_t i = 0; i + 2 <= len;) {
				size_t n = v[i + 1];
				for (size_t k = 0; k < n && i + 2 + (k + 1) * w <= len; k++) {
					const uint8_t *a = v + i + 2 + k * w;
					if (w == 4 ? (a[0] | a[1] | a[2] | a[3]) == 0 : (a[0] | a[1]) == 0)
						return true;
				}
				i += 2 + n * w;
			}
			return false;
		}
		p = v + len;
	}
	return false;
}

static unsigned long
count_bgpdump_routes(const char *file)
{
	char path[1024];
	size_t len = 0;
	unsigned long n = 0;
	uint8_t *t;

	snprintf(path, sizeof(path), "%s/mrt-expected/%s.bgp.gz", tu_data_dir(), file);
	t = tu_gz_read(path, &len);
	if (t == NULL)
		return 0;
	/* "BGP4MP_ET|time|A|peer|as|prefix|...": count lines whose third
	 * field is A or W */
	for (size_t i = 0; i < len;) {
		size_t e = i, bars = 0, f3 = 0;
		while (e < len && t[e] != '\n') {
			if (t[e] == '|' && ++bars == 2)
				f3 = e + 1;
			e++;
		}
		if (f3 && f3 + 1 < e && (t[f3] == 'A' || t[f3] == 'W') && t[f3 + 1] == '|')
			n++;
		i = e + 1;
	}
	free(t);
	return n;
}

static void
test_mrt_capture(void **state)
{
	char path[1024];
	size_t len = 0, pos = 0;
	uint8_t *d;
	struct tu_mrt_msg m;
	unsigned n_upd = 0, n_other = 0, n_bad = 0, n_nonok = 0, n_taw_as0 = 0, count[D_MAX] = { 0 };
	unsigned long n_prefixes = 0;
	static struct bgp_prefix pw[4096], pn[4096];
	(void)state;
	nfail = 0;

	snprintf(path, sizeof(path), "%s/mrt/updates.et-header.2015.gz", tu_data_dir());
	d = tu_gz_read(path, &len);
	if (d == NULL)
		fail_msg("cannot read %s", path);
	int r;
	while ((r = tu_mrt_next(d, len, &pos, &m)) == 1) {
		struct bgp_sess s;
		struct bgp_update u;
		size_t clen, elen;
		uint8_t type;
		uint16_t mlen;
		struct bgp_error err;

		if (m.len < BGP_HDR_LEN || bgp_hdr_check(m.msg, m.len, BGP_MAX_MSG, &type, &mlen, &err) != 0 ||
		    mlen != m.len) {
			n_bad++;
			continue;
		}
		if (type != BGP_MSG_UPDATE) {
			n_other++;
			continue;
		}
		n_upd++;
		/* AS width from the record subtype (RFC 6396 §4.4.3 MESSAGE_AS4);
		 * the peer and local AS are equal: iBGP. */
		tu_sess(&s, m.as4, m.peer_as == m.local_as);
		if (bgp_update_decode(m.msg, m.len, &s, &u) != 0) {
			FAILF("update %u: reset %u/%u (%s)", n_upd, u.err.code, u.err.subcode, u.err.reason);
			continue;
		}
		n_prefixes += bgp_update_nprefixes(&u);
		size_t nw = collect(&u.withdrawn, pw, 4096), nn = collect(&u.nlri, pn, 4096);
		uint64_t discarded = 0;
		if (u.action != BGP_ACT_OK) {
			/* Real data that RFC 7607 rejects: AS 0 in the AS_PATH (treat-
			 * as-withdraw) or in the AGGREGATOR (discard). Each such
			 * verdict is confirmed here by looking at the octets. */
			printf("capture: update %u: %s (%s)\n", n_upd, bgp_action_name(u.action),
			       u.err.reason);
			if (u.action == BGP_ACT_WITHDRAW && wire_has_as0(m.msg, BGP_ATTR_AS_PATH, m.as4)) {
				n_taw_as0++;
				if (nn != u.nlri.count || nn == 0)
					FAILF("update %u: treat-as-withdraw without its NLRI", n_upd);
				continue;
			}
			if (u.action == BGP_ACT_DISCARD &&
			    wire_has_as0(m.msg, BGP_ATTR_AGGREGATOR, m.as4) &&
			    !(u.attrs.mask & (1ull << BGP_ATTR_AGGREGATOR))) {
				discarded = 1ull << BGP_ATTR_AGGREGATOR;
			} else {
				n_nonok++;
				FAILF("update %u: %s not confirmed by the octets", n_upd,
				      bgp_action_name(u.action));
				continue;
			}
		}
		if (u.mp_reach.count || u.mp_unreach.count) {
			FAILF("update %u: MP NLRI in an IPv4-only capture", n_upd);
			continue;
		}
		bool announce = nn > 0;
		if (announce && bgp_attrs_canon(&u, canon1, sizeof(canon1), &clen) != 0) {
			FAILF("update %u: canon failed", n_upd);
			continue;
		}
		struct bgp_update_spec spec = {
			.withdrawn = pw, .n_withdrawn = nw, .nlri = pn, .n_nlri = nn,
			.mp_unreach_af = -1,
			.attrs = announce ? canon1 : NULL, .attrs_len = announce ? clen : 0,
		};
		if (bgp_update_encode(&spec, &s, enc, sizeof(enc), &elen) != 0) {
			FAILF("update %u: encode failed", n_upd);
			continue;
		}
		/* An original carrying attributes but no NLRI: we write none. */
		if (!announce && (m.msg[21 + (m.msg[19] << 8 | m.msg[20])] |
		                  m.msg[22 + (m.msg[19] << 8 | m.msg[20])]) != 0) {
			FAILF("update %u: attributes without NLRI", n_upd);
			continue;
		}
		unsigned kinds;
		char why[128];
		if (!explain(m.msg, m.len, enc, elen, discarded, &kinds, why, sizeof(why))) {
			if (nfail < 5) {
				hexdump("original", m.msg, m.len);
				hexdump("re-encoded", enc, elen);
			}
			FAILF("update %u: unexplained difference: %s", n_upd, why);
			continue;
		}
		for (int k = 0; k < D_MAX; k++)
			if (kinds & (1u << k))
				count[k]++;
	}
	free(d);
	if (r < 0)
		FAILF("MRT framing broken at offset %zu", pos);
	printf("capture: %u UPDATEs (%lu prefixes), %u other messages, %u bad headers\n", n_upd,
	       n_prefixes, n_other, n_bad);
	printf("capture: %7u treat-as-withdraw for AS 0 in AS_PATH (RFC 7607), not re-encoded\n",
	       n_taw_as0);
	for (int k = 0; k < D_MAX; k++)
		printf("capture: %7u %s\n", count[k], diffname[k]);
	/* tests/data/README.md: 89,679 UPDATEs in this session */
	if (n_upd != 89679)
		FAILF("%u UPDATEs, the data set has 89,679", n_upd);
	if (n_nonok)
		FAILF("%u real updates rejected for no reason this test can see", n_nonok);
	/* Prefix count from bgpdump's decoding of the same file (mrt-expected):
	 * one A or W line per prefix. */
	unsigned long want_prefixes = count_bgpdump_routes("updates.et-header.2015.gz");
	if (n_prefixes != want_prefixes)
		FAILF("%lu prefixes decoded, bgpdump's expected output has %lu", n_prefixes,
		      want_prefixes);
	if (nfail)
		fail_msg("%d failures", nfail);
}

static int
setup(void **state)
{
	const char *p = getenv("RH_BGP_SAMPLE");
	(void)state;
	if (p && *p) {
		sample = fopen(p, "w");
		if (sample == NULL)
			return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (sample)
		fclose(sample);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated),   cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_notification), cmocka_unit_test(test_rrefresh),
		cmocka_unit_test(test_open),        cmocka_unit_test(test_mrt_capture),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
