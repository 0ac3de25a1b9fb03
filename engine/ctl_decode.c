/*
 * ctl_decode.c — `routehubctl decode`: print the BGP messages and RIB entries
 * of MRT files (RFC 6396) or of text files with one hex BGP message per line,
 * as JSON, as `bgpdump -m` lines, or as a summary.
 *
 * Runs on routehubctl's only thread. MRT framing comes from routehub/mrt.h;
 * every BGP message goes through the codec (routehub/bgp.h) — this file has no
 * attribute parser of its own. TABLE_DUMP(_V2) RIB entries carry a bare
 * attribute list: it is wrapped in a synthesized UPDATE (after rewriting the
 * abbreviated MP_REACH_NLRI of RFC 6396 §4.3.4) so the codec decodes it too.
 *
 * Speed: output goes through one buffer written with fwrite; per UPDATE the
 * attribute part of a bgpdump line is formatted once and reused for each
 * prefix; nothing is allocated per message or per prefix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "routehub/bgp.h"
#include "routehub/mrt.h"
#include "ctl_decode.h"

/* ---- output buffer ------------------------------------------------------------ */
#define OB_CAP (1u << 20)

struct ob {
	char *buf;
	size_t len, cap;
	FILE *f;
	bool fail; /* a write failed (e.g. closed pipe): stop early */
};

static void
ob_flush(struct ob *o)
{
	if (o->len > 0 && o->f != NULL && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->fail = true;
	o->len = 0;
}

static void
ob_put(struct ob *o, const char *s, size_t n)
{
	if (o->cap - o->len < n) {
		ob_flush(o);
		if (n > o->cap) {
			if (o->f != NULL && fwrite(s, 1, n, o->f) != n)
				o->fail = true;
			return;
		}
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
ob_s(struct ob *o, const char *s)
{
	ob_put(o, s, strlen(s));
}

static void
ob_c(struct ob *o, char c)
{
	if (o->len == o->cap)
		ob_flush(o);
	o->buf[o->len++] = c;
}

static size_t
fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void
ob_u64(struct ob *o, uint64_t v)
{
	char tmp[24];

	ob_put(o, tmp, fmt_u64(tmp, v));
}

/* A growable string for text built once and reused (the attribute part of
 * bgpdump lines). Grows only when a longer text than ever before appears. */
struct sb {
	char *p;
	size_t len, cap;
};

/* Room for n more bytes and a NUL. */
static void
sb_reserve(struct sb *s, size_t n)
{
	if (s->cap - s->len < n + 1) {
		size_t ncap = s->cap ? s->cap : 256;
		char *np;

		while (ncap - s->len < n + 1)
			ncap *= 2;
		np = realloc(s->p, ncap);
		if (np == NULL) {
			fprintf(stderr, "routehubctl: out of memory\n");
			exit(2);
		}
		s->p = np;
		s->cap = ncap;
	}
}

static void
sb_put(struct sb *s, const char *str, size_t n)
{
	sb_reserve(s, n);
	memcpy(s->p + s->len, str, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void
sb_s(struct sb *s, const char *str)
{
	sb_put(s, str, strlen(str));
}

static void
sb_u64(struct sb *s, uint64_t v)
{
	char tmp[24];

	sb_put(s, tmp, fmt_u64(tmp, v));
}

/* ---- addresses and prefixes ----------------------------------------------------- */
static size_t
fmt_ip4(char *out, const uint8_t *a)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i > 0)
			out[n++] = '.';
		n += fmt_u64(out + n, a[i]);
	}
	out[n] = '\0';
	return n;
}

/* out: at least INET6_ADDRSTRLEN bytes. */
static size_t
fmt_ip(char *out, uint8_t af, const uint8_t *a)
{
	if (af != BGP_AF_IPV6)
		return fmt_ip4(out, a);
	if (inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) == NULL)
		out[0] = '\0';
	return strlen(out);
}

#define PFX_STRLEN (INET6_ADDRSTRLEN + 4)

/* IPv6 text exactly as bgpdump writes it: the BSD inet_ntop6 algorithm but
 * compressing the longest run of zero words even when it is a single word
 * ("2001:7f8:30::2:1:0:8447"; RFC 5952 §4.2.2 would not), and IPv4-mapped or
 * -compatible addresses with a dotted quad tail. */
static size_t
fmt_ip6_bgpdump(char *out, const uint8_t *a)
{
	static const char hx[] = "0123456789abcdef";
	unsigned w[8];
	int best = -1, best_len = 0, cur = -1, cur_len = 0;
	size_t n = 0;

	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (int i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur == -1)
				cur = i, cur_len = 1;
			else
				cur_len++;
		} else if (cur != -1) {
			if (best == -1 || cur_len > best_len)
				best = cur, best_len = cur_len;
			cur = -1;
		}
	}
	if (cur != -1 && (best == -1 || cur_len > best_len))
		best = cur, best_len = cur_len;
	for (int i = 0; i < 8; i++) {
		if (best != -1 && i >= best && i < best + best_len) {
			if (i == best)
				out[n++] = ':';
			continue;
		}
		if (i != 0)
			out[n++] = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
			n += fmt_ip4(out + n, a + 12);
			return n;
		}
		{
			bool lead = true;

			for (int sh = 12; sh >= 0; sh -= 4) {
				unsigned nib = (w[i] >> sh) & 15;

				if (nib == 0 && lead && sh != 0)
					continue;
				lead = false;
				out[n++] = hx[nib];
			}
		}
	}
	if (best != -1 && best + best_len == 8)
		out[n++] = ':';
	out[n] = '\0';
	return n;
}

static size_t
fmt_ip_bgpdump(char *out, uint8_t af, const uint8_t *a)
{
	return af == BGP_AF_IPV6 ? fmt_ip6_bgpdump(out, a) : fmt_ip4(out, a);
}

static size_t
fmt_prefix_bgpdump(char *out, const struct bgp_prefix *p)
{
	size_t n = fmt_ip_bgpdump(out, p->af, p->addr);

	out[n++] = '/';
	n += fmt_u64(out + n, p->len);
	out[n] = '\0';
	return n;
}

static size_t
fmt_prefix(char *out, const struct bgp_prefix *p)
{
	size_t n = fmt_ip(out, p->af, p->addr);

	out[n++] = '/';
	n += fmt_u64(out + n, p->len);
	out[n] = '\0';
	return n;
}

static void
hex_put(struct ob *o, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		ob_c(o, hx[p[i] >> 4]);
		ob_c(o, hx[p[i] & 15]);
	}
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- JSON writer: commas and nesting, values escaped ----------------------------- */
#define JW_DEPTH 16

struct jw {
	struct ob *o;
	unsigned depth;
	bool after_key;
	bool first[JW_DEPTH];
};

static void
jv_pre(struct jw *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		ob_c(j->o, ',');
	j->first[j->depth] = false;
}

static void
j_key(struct jw *j, const char *k)
{
	jv_pre(j);
	ob_c(j->o, '"');
	ob_s(j->o, k);
	ob_put(j->o, "\":", 2);
	j->after_key = true;
}

static void
j_begin(struct jw *j, char c)
{
	jv_pre(j);
	ob_c(j->o, c);
	if (j->depth + 1 >= JW_DEPTH) {
		fprintf(stderr, "routehubctl: %s: JSON nesting too deep\n", __func__);
		abort();
	}
	j->depth++;
	j->first[j->depth] = true;
}

static void
j_end(struct jw *j, char c)
{
	ob_c(j->o, c);
	j->depth--;
}

static void
j_u64(struct jw *j, uint64_t v)
{
	jv_pre(j);
	ob_u64(j->o, v);
}

static void
j_bool(struct jw *j, bool v)
{
	jv_pre(j);
	ob_s(j->o, v ? "true" : "false");
}

/* Strings from the wire are bytes: escape JSON specials, pass printable ASCII
 * and well-formed-looking UTF-8 through, and map other bytes to \u00XX. */
static void
j_strn(struct jw *j, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	jv_pre(j);
	ob_c(j->o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			ob_c(j->o, '\\');
			ob_c(j->o, (char)c);
		} else if (c < 0x20 || c >= 0x7f) {
			char e[6] = { '\\', 'u', '0', '0', hx[c >> 4], hx[c & 15] };

			ob_put(j->o, e, 6);
		} else {
			ob_c(j->o, (char)c);
		}
	}
	ob_c(j->o, '"');
}

static void
j_str(struct jw *j, const char *s)
{
	j_strn(j, s, strlen(s));
}

static void
j_hex(struct jw *j, const uint8_t *p, size_t n)
{
	jv_pre(j);
	ob_c(j->o, '"');
	hex_put(j->o, p, n);
	ob_c(j->o, '"');
}

static void
j_ip(struct jw *j, uint8_t af, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	j_strn(j, buf, fmt_ip(buf, af, a));
}

static void
j_id(struct jw *j, uint32_t nbo)
{
	uint8_t a[4];

	memcpy(a, &nbo, 4);
	j_ip(j, BGP_AF_IPV4, a);
}

static void
j_prefix(struct jw *j, const struct bgp_prefix *p, bool addpath)
{
	char buf[PFX_STRLEN];
	size_t n = fmt_prefix(buf, p);

	if (!addpath) {
		j_strn(j, buf, n);
		return;
	}
	j_begin(j, '{');
	j_key(j, "prefix");
	j_strn(j, buf, n);
	j_key(j, "path_id");
	j_u64(j, p->path_id);
	j_end(j, '}');
}

/* ---- decoder state ------------------------------------------------------------------ */
enum ctl_fmt {
	CTL_FMT_JSON = 0,
	CTL_FMT_BGPDUMP,
};

struct dec_stats {
	uint64_t files;
	uint64_t records;
	uint64_t rec_type[4]; /* TABLE_DUMP, TABLE_DUMP_V2, BGP4MP, BGP4MP_ET */
	uint64_t rec_other;
	uint64_t lines;       /* hex input lines decoded */
	uint64_t lines_skipped;
	uint64_t msgs[6];     /* by BGP message type 1..5; [0] unknown */
	uint64_t states;
	uint64_t announced;
	uint64_t withdrawn;
	uint64_t rib_entries;
	uint64_t eor;
	uint64_t act[4];      /* by enum bgp_action */
	uint64_t errors;      /* malformed MRT records, messages, lines */
	uint64_t skipped;     /* records we do not decode (RIB_GENERIC, unknown types) */
	uint64_t salvaged;    /* bgpdump output: messages printed in part (bd_rework) */
	uint64_t addpath_guess; /* UPDATEs readable only with ADD-PATH path ids */
};

/* Peers seen, for the summary: an open-addressing set of (address, AS). */
struct peer_key {
	uint8_t used, af;
	uint8_t addr[16];
	uint32_t asn;
};

struct peerset {
	struct peer_key *slot;
	size_t cap, n;
};

/* A TABLE_DUMP_V2 peer, from the last PEER_INDEX_TABLE. */
struct dec_peer {
	struct mrt_addr ip;
	uint32_t asn;
};

/* What a printed message is about: where it came from and who sent it. */
struct msgctx {
	const char *label;   /* bgpdump: "BGP4MP", "BGP4MP_ET", ... */
	char time[32];       /* "1445565678" or "1445565678.509481" */
	const struct mrt_record *rec; /* NULL for hex input */
	uint64_t line;       /* hex input line number */
	const struct mrt_bgp4mp *mp; /* BGP4MP context, or NULL */
	bool as4;            /* AS number width of the message */
	bool addpath_guess;  /* ADD-PATH inferred, not from the subtype */
};

struct dec {
	enum ctl_fmt fmt;
	bool summary;
	bool hex_as2;
	bool hex_addpath;
	bool hex_ebgp;
	struct ob out;
	struct jw j;
	struct sb sfx_pre;  /* "aspath|origin|" */
	struct sb sfx_post; /* "lp|med|comm|AG|aggr|\n" */
	uint8_t *synth;     /* a synthesized UPDATE */
	size_t synth_cap;
	uint8_t *attrbuf;   /* expanded RIB attributes */
	uint8_t *canon;     /* bgp_attrs_canon output */
	uint8_t *patch;     /* a reworked copy of a message (bd_rework) */
	struct dec_peer *peers;
	unsigned npeers;
	const char *file;
	struct dec_stats st;
	struct peerset seen;
};

static void
peer_seen(struct dec *d, uint8_t af, const uint8_t *addr, uint32_t asn)
{
	struct peer_key k;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	if (!d->summary)
		return;
	memset(&k, 0, sizeof(k));
	k.used = 1;
	k.af = af;
	memcpy(k.addr, addr, af == BGP_AF_IPV6 ? 16 : 4);
	k.asn = asn;
	if (d->seen.n * 2 >= d->seen.cap) {
		struct peerset ns;

		ns.cap = d->seen.cap ? d->seen.cap * 2 : 256;
		ns.n = 0;
		ns.slot = calloc(ns.cap, sizeof(*ns.slot));
		if (ns.slot == NULL)
			return; /* the count is best effort */
		for (i = 0; i < d->seen.cap; i++) {
			struct peer_key *o = &d->seen.slot[i];
			uint64_t hh = 1469598103934665603ull;

			if (!o->used)
				continue;
			for (size_t b = 0; b < sizeof(*o); b++)
				hh = (hh ^ ((const uint8_t *)o)[b]) * 1099511628211ull;
			for (size_t p = hh & (ns.cap - 1);; p = (p + 1) & (ns.cap - 1)) {
				if (!ns.slot[p].used) {
					ns.slot[p] = *o;
					break;
				}
			}
			ns.n++;
		}
		free(d->seen.slot);
		d->seen = ns;
	}
	for (size_t b = 0; b < sizeof(k); b++)
		h = (h ^ ((const uint8_t *)&k)[b]) * 1099511628211ull;
	/* Bounded: the table is at most half full. */
	for (i = h & (d->seen.cap - 1);; i = (i + 1) & (d->seen.cap - 1)) {
		if (!d->seen.slot[i].used) {
			d->seen.slot[i] = k;
			d->seen.n++;
			return;
		}
		if (memcmp(&d->seen.slot[i], &k, sizeof(k)) == 0)
			return;
	}
}

static void
dec_error(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
dec_error(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	d->st.errors++;
	ob_flush(&d->out); /* keep stdout and stderr in order on a terminal */
	fflush(d->out.f);
	fprintf(stderr, "routehubctl decode: %s: ", d->file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
state_name(uint16_t s)
{
	/* RFC 6396 §4.4.1 state values (RFC 4271 §8.2.2 states) */
	static const char *const names[] = { "unknown", "Idle", "Connect", "Active",
		                             "OpenSent", "OpenConfirm", "Established" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static const char *
af_name(uint8_t af)
{
	return af == BGP_AF_IPV6 ? "ipv6-unicast" : "ipv4-unicast";
}

static const char *
origin_name(uint8_t o)
{
	switch (o) {
	case BGP_ORIGIN_IGP:
		return "IGP";
	case BGP_ORIGIN_EGP:
		return "EGP";
	case BGP_ORIGIN_INCOMPLETE:
		return "INCOMPLETE";
	default:
		return "UNKNOWN";
	}
}

static bool
has(const struct bgp_attrs *a, unsigned type)
{
	return (a->mask & (1ull << type)) != 0;
}

/* Append the codec's text form of an AS path to out. */
static void
aspath_fmt(struct sb *out, const uint8_t *p, size_t len, int as4)
{
	char small[512];
	int n;

	n = bgp_aspath_format(p, len, as4, small, sizeof(small));
	if (n <= 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sb_put(out, small, (size_t)n);
		return;
	}
	/* Long path: format into the string builder directly. */
	sb_reserve(out, (size_t)n);
	bgp_aspath_format(p, len, as4, out->p + out->len, out->cap - out->len);
	out->len += (size_t)n;
}

/* The AS path as bgpdump prints it: 4-octet numbers, with AS4_PATH merged
 * into a 2-octet AS_PATH (RFC 6793 §4.2.3) through the codec's canonical form. */
static void
aspath_text(struct dec *d, const struct bgp_update *u, struct sb *out)
{
	const struct bgp_attrs *a = &u->attrs;
	const uint8_t *p = a->aspath.p;
	size_t len = a->aspath.len, clen;
	int as4 = a->aspath_as4;
	struct bgp_attr ca;

	if (!has(a, BGP_ATTR_AS_PATH))
		return;
	if (!as4 && has(a, BGP_ATTR_AS4_PATH) &&
	    (u->action == BGP_ACT_OK || u->action == BGP_ACT_DISCARD) &&
	    bgp_attrs_canon(u, d->canon, BGP_CANON_MAX, &clen) == 0 &&
	    bgp_attr_find(d->canon, clen, BGP_ATTR_AS_PATH, &ca) == 0) {
		p = ca.val;
		len = ca.len;
		as4 = 1;
	}
	aspath_fmt(out, p, len, as4);
}

/* The aggregator, with AS4_AGGREGATOR replacing AS_TRANS (RFC 6793 §4.2.3). */
static bool
aggregator(const struct bgp_attrs *a, uint32_t *asn, uint32_t *id)
{
	if (!has(a, BGP_ATTR_AGGREGATOR))
		return false;
	*asn = a->aggregator_as;
	*id = a->aggregator_id;
	if (!a->aspath_as4 && has(a, BGP_ATTR_AS4_AGGREGATOR)) {
		*asn = a->as4_aggregator_as;
		*id = a->as4_aggregator_id;
	}
	return true;
}

static void
community_text(struct sb *s, uint32_t c)
{
	/* bgpdump names the RFC 1997 well-known communities. */
	switch (c) {
	case BGP_COMM_NO_EXPORT:
		sb_s(s, "no-export");
		return;
	case BGP_COMM_NO_ADVERTISE:
		sb_s(s, "no-advertise");
		return;
	case BGP_COMM_NO_EXPORT_SUBCONFED:
		sb_s(s, "local-AS");
		return;
	default:
		sb_u64(s, c >> 16);
		sb_put(s, ":", 1);
		sb_u64(s, c & 0xffff);
	}
}

/* ---- bgpdump -m output ------------------------------------------------------------------- */
/* The wire value of an attribute the codec did not accept (RFC 7606/7607
 * discard or treat-as-withdraw): bgpdump prints what is on the wire. */
static bool
attr_raw(const struct bgp_attrs *a, uint8_t type, struct bgp_attr *out)
{
	struct bgp_attr_iter it = { a->all.p, a->all.len, 0 };

	if (a->all.p == NULL)
		return false;
	for (unsigned k = 0; k < 4096 && bgp_attr_next(&it, out) == 1; k++) {
		if (out->type == type)
			return true;
	}
	return false;
}

/* Build the parts of an A/B line around the next hop, once per attribute set:
 *   pre:  "aspath|origin|"
 *   post: "|localpref|med|communities|AG|aggregator|\n"  */
static void
bd_attrs(struct dec *d, const struct bgp_update *u, bool as4)
{
	const struct bgp_attrs *a = &u->attrs;
	struct sb *pre = &d->sfx_pre, *post = &d->sfx_post;
	uint32_t agg_as, agg_id;
	char ip[INET6_ADDRSTRLEN];
	struct bgp_attr raw;
	bool have_agg;

	pre->len = 0;
	post->len = 0;
	sb_reserve(pre, 0);
	if (has(a, BGP_ATTR_AS_PATH)) {
		aspath_text(d, u, pre);
	} else if (attr_raw(a, BGP_ATTR_AS_PATH, &raw)) {
		aspath_fmt(pre, raw.val, raw.len, as4);
	}
	sb_put(pre, "|", 1);
	sb_s(pre, has(a, BGP_ATTR_ORIGIN) ? origin_name(a->origin) : "INCOMPLETE");
	sb_put(pre, "|", 1);

	sb_put(post, "|", 1);
	sb_u64(post, has(a, BGP_ATTR_LOCAL_PREF) ? a->local_pref : 0);
	sb_put(post, "|", 1);
	sb_u64(post, has(a, BGP_ATTR_MED) ? a->med : 0);
	sb_put(post, "|", 1);
	if (has(a, BGP_ATTR_COMMUNITIES)) {
		for (size_t i = 0; i + 4 <= a->communities.len; i += 4) {
			if (i > 0)
				sb_put(post, " ", 1);
			community_text(post, rd32(a->communities.p + i));
		}
	}
	/* bgpdump 1.6 does not print large communities (RFC 8092) in -m lines. */
	sb_s(post, has(a, BGP_ATTR_ATOMIC_AGGREGATE) ? "|AG|" : "|NAG|");
	have_agg = aggregator(a, &agg_as, &agg_id);
	if (!have_agg && attr_raw(a, BGP_ATTR_AGGREGATOR, &raw) && raw.len == (as4 ? 8 : 6)) {
		agg_as = as4 ? rd32(raw.val) : rd16(raw.val);
		memcpy(&agg_id, raw.val + (as4 ? 4 : 2), 4);
		have_agg = true;
	}
	if (have_agg) {
		sb_u64(post, agg_as);
		sb_put(post, " ", 1);
		sb_put(post, ip, fmt_ip4(ip, (const uint8_t *)&agg_id));
	}
	sb_put(post, "|\n", 2);
}

/* "LABEL|time|" */
static void
bd_head(struct dec *d, const struct msgctx *m)
{
	ob_s(&d->out, m->label);
	ob_c(&d->out, '|');
	ob_s(&d->out, m->time);
	ob_c(&d->out, '|');
}

/* "peer|peeras|" */
static void
bd_peer(struct dec *d, const struct mrt_addr *ip, uint32_t asn)
{
	char buf[INET6_ADDRSTRLEN];

	ob_put(&d->out, buf, fmt_ip_bgpdump(buf, ip->af, ip->addr));
	ob_c(&d->out, '|');
	ob_u64(&d->out, asn);
	ob_c(&d->out, '|');
}

/* The next hop bgpdump prints for a route of family af: NEXT_HOP for IPv4
 * (255.255.255.255 when absent), the MP_REACH_NLRI global address otherwise. */
static void
bd_nexthop(struct dec *d, const struct bgp_attrs *a, uint8_t af)
{
	char buf[INET6_ADDRSTRLEN];

	if (af == BGP_AF_IPV6 && has(a, BGP_ATTR_MP_REACH_NLRI) && a->mp_nh_len >= 16) {
		ob_put(&d->out, buf, fmt_ip6_bgpdump(buf, a->mp_nh));
	} else if (af == BGP_AF_IPV4 && !has(a, BGP_ATTR_NEXT_HOP) &&
	           has(a, BGP_ATTR_MP_REACH_NLRI) && a->mp_nh_len == 4) {
		ob_put(&d->out, buf, fmt_ip4(buf, a->mp_nh));
	} else if (has(a, BGP_ATTR_NEXT_HOP)) {
		ob_put(&d->out, buf, fmt_ip4(buf, (const uint8_t *)&a->nexthop));
	} else {
		ob_s(&d->out, "255.255.255.255");
	}
}

static void
bd_withdraw_run(struct dec *d, const struct msgctx *m, const struct bgp_nlri *n)
{
	struct bgp_prefix p;
	char buf[PFX_STRLEN];
	size_t pos = 0;

	for (unsigned k = 0; k <= n->count && bgp_nlri_next(n, &pos, &p) == 1; k++) {
		bd_head(d, m);
		ob_put(&d->out, "W|", 2);
		bd_peer(d, &m->mp->peer_ip, m->mp->peer_as);
		ob_put(&d->out, buf, fmt_prefix_bgpdump(buf, &p));
		if (n->addpath && m->mp->addpath) {
			ob_c(&d->out, '|');
			ob_u64(&d->out, p.path_id);
		}
		ob_c(&d->out, '\n');
	}
}

static void
bd_announce_run(struct dec *d, const struct msgctx *m, const struct bgp_update *u,
                const struct bgp_nlri *n)
{
	struct bgp_prefix p;
	char buf[PFX_STRLEN];
	size_t pos = 0;

	for (unsigned k = 0; k <= n->count && bgp_nlri_next(n, &pos, &p) == 1; k++) {
		bd_head(d, m);
		ob_put(&d->out, "A|", 2);
		bd_peer(d, &m->mp->peer_ip, m->mp->peer_as);
		ob_put(&d->out, buf, fmt_prefix_bgpdump(buf, &p));
		ob_c(&d->out, '|');
		if (n->addpath && m->mp->addpath) {
			ob_u64(&d->out, p.path_id);
			ob_c(&d->out, '|');
		}
		ob_put(&d->out, d->sfx_pre.p, d->sfx_pre.len);
		bd_nexthop(d, &u->attrs, p.af);
		ob_put(&d->out, d->sfx_post.p, d->sfx_post.len);
	}
}

static void
bd_update(struct dec *d, const struct msgctx *m, const struct bgp_update *u)
{
	if (m->mp == NULL)
		return; /* hex input has no peer: nothing bgpdump could print */
	bd_withdraw_run(d, m, &u->withdrawn);
	bd_withdraw_run(d, m, &u->mp_unreach);
	if (u->nlri.count + u->mp_reach.count == 0)
		return;
	bd_attrs(d, u, m->as4);
	bd_announce_run(d, m, u, &u->nlri);
	bd_announce_run(d, m, u, &u->mp_reach);
}

/* ---- JSON output ----------------------------------------------------------------------- */
static void
j_common(struct dec *d, const struct msgctx *m, const char *type)
{
	struct jw *j = &d->j;

	j->depth = 0;
	j->first[0] = true;
	j->after_key = false;
	j_begin(j, '{');
	j_key(j, "type");
	j_str(j, type);
	if (m->rec != NULL) {
		j_key(j, "timestamp");
		jv_pre(j);
		ob_s(j->o, m->time);
		j_key(j, "mrt");
		j_begin(j, '{');
		j_key(j, "type");
		j_str(j, mrt_type_name(m->rec->hdr.type));
		j_key(j, "subtype");
		j_str(j, mrt_subtype_name(m->rec->hdr.type, m->rec->hdr.subtype));
		j_key(j, "record");
		j_u64(j, m->rec->index);
		j_end(j, '}');
	} else {
		j_key(j, "line");
		j_u64(j, m->line);
	}
	if (m->mp != NULL) {
		j_key(j, "peer");
		j_ip(j, m->mp->peer_ip.af, m->mp->peer_ip.addr);
		j_key(j, "asn");
		j_u64(j, m->mp->peer_as);
		j_key(j, "local");
		j_ip(j, m->mp->local_ip.af, m->mp->local_ip.addr);
		j_key(j, "local_asn");
		j_u64(j, m->mp->local_as);
		if (m->mp->local) {
			j_key(j, "direction");
			j_str(j, "out");
		}
	}
}

static void
j_finish(struct dec *d)
{
	j_end(&d->j, '}');
	ob_c(&d->out, '\n');
}

static void
j_ext_community(struct jw *j, const uint8_t *c)
{
	char buf[64];
	uint8_t type = c[0] & 0x3f, sub = c[1];
	const char *name = NULL;
	int n;

	/* RFC 4360 §4 (two-octet AS), §4.3 (IPv4), RFC 5668 (four-octet AS):
	 * route target (2) and route origin (3) in text, the rest in hex. */
	if (sub == 0x02)
		name = "rt";
	else if (sub == 0x03)
		name = "soo";
	if (name != NULL && type == 0x00) {
		n = snprintf(buf, sizeof(buf), "%s:%u:%u", name, rd16(c + 2), rd32(c + 4));
	} else if (name != NULL && type == 0x01) {
		char ip[16];

		fmt_ip4(ip, c + 2);
		n = snprintf(buf, sizeof(buf), "%s:%s:%u", name, ip, rd16(c + 6));
	} else if (name != NULL && type == 0x02) {
		n = snprintf(buf, sizeof(buf), "%s:%u:%u", name, rd32(c + 2), rd16(c + 6));
	} else {
		n = snprintf(buf, sizeof(buf), "0x%02x%02x%02x%02x%02x%02x%02x%02x", c[0], c[1],
		             c[2], c[3], c[4], c[5], c[6], c[7]);
	}
	j_strn(j, buf, (size_t)n);
}

static bool
attr_known(uint8_t type)
{
	switch (type) {
	case BGP_ATTR_ORIGIN:
	case BGP_ATTR_AS_PATH:
	case BGP_ATTR_NEXT_HOP:
	case BGP_ATTR_MED:
	case BGP_ATTR_LOCAL_PREF:
	case BGP_ATTR_ATOMIC_AGGREGATE:
	case BGP_ATTR_AGGREGATOR:
	case BGP_ATTR_COMMUNITIES:
	case BGP_ATTR_ORIGINATOR_ID:
	case BGP_ATTR_CLUSTER_LIST:
	case BGP_ATTR_MP_REACH_NLRI:
	case BGP_ATTR_MP_UNREACH_NLRI:
	case BGP_ATTR_EXT_COMMUNITIES:
	case BGP_ATTR_AS4_PATH:
	case BGP_ATTR_AS4_AGGREGATOR:
	case BGP_ATTR_LARGE_COMMUNITY:
		return true;
	default:
		return false;
	}
}

static void
j_attrs(struct dec *d, const struct bgp_update *u)
{
	const struct bgp_attrs *a = &u->attrs;
	struct jw *j = &d->j;
	uint32_t agg_as, agg_id;

	j_key(j, "attributes");
	j_begin(j, '{');
	if (has(a, BGP_ATTR_ORIGIN)) {
		j_key(j, "origin");
		j_str(j, origin_name(a->origin));
	}
	if (has(a, BGP_ATTR_AS_PATH)) {
		d->sfx_pre.len = 0;
		sb_reserve(&d->sfx_pre, 0);
		aspath_text(d, u, &d->sfx_pre);
		j_key(j, "as_path");
		j_strn(j, d->sfx_pre.p, d->sfx_pre.len);
	}
	if (has(a, BGP_ATTR_NEXT_HOP)) {
		j_key(j, "next_hop");
		j_id(j, a->nexthop);
	}
	if (has(a, BGP_ATTR_MED)) {
		j_key(j, "med");
		j_u64(j, a->med);
	}
	if (has(a, BGP_ATTR_LOCAL_PREF)) {
		j_key(j, "local_pref");
		j_u64(j, a->local_pref);
	}
	if (has(a, BGP_ATTR_ATOMIC_AGGREGATE)) {
		j_key(j, "atomic_aggregate");
		j_bool(j, true);
	}
	if (aggregator(a, &agg_as, &agg_id)) {
		j_key(j, "aggregator");
		j_begin(j, '{');
		j_key(j, "asn");
		j_u64(j, agg_as);
		j_key(j, "id");
		j_id(j, agg_id);
		j_end(j, '}');
	}
	if (has(a, BGP_ATTR_COMMUNITIES)) {
		j_key(j, "communities");
		j_begin(j, '[');
		for (size_t i = 0; i + 4 <= a->communities.len; i += 4) {
			uint32_t c = rd32(a->communities.p + i);
			char buf[24];
			int n = snprintf(buf, sizeof(buf), "%u:%u", c >> 16, c & 0xffff);

			j_strn(j, buf, (size_t)n);
		}
		j_end(j, ']');
	}
	if (has(a, BGP_ATTR_EXT_COMMUNITIES)) {
		j_key(j, "ext_communities");
		j_begin(j, '[');
		for (size_t i = 0; i + 8 <= a->ext_communities.len; i += 8)
			j_ext_community(j, a->ext_communities.p + i);
		j_end(j, ']');
	}
	if (has(a, BGP_ATTR_LARGE_COMMUNITY)) {
		j_key(j, "large_communities");
		j_begin(j, '[');
		for (size_t i = 0; i + 12 <= a->large_communities.len; i += 12) {
			const uint8_t *c = a->large_communities.p + i;
			char buf[40];
			int n = snprintf(buf, sizeof(buf), "%u:%u:%u", rd32(c), rd32(c + 4),
			                 rd32(c + 8));

			j_strn(j, buf, (size_t)n);
		}
		j_end(j, ']');
	}
	if (has(a, BGP_ATTR_ORIGINATOR_ID)) {
		j_key(j, "originator_id");
		j_id(j, a->originator_id);
	}
	if (has(a, BGP_ATTR_CLUSTER_LIST)) {
		j_key(j, "cluster_list");
		j_begin(j, '[');
		for (size_t i = 0; i + 4 <= a->cluster_list.len; i += 4)
			j_ip(j, BGP_AF_IPV4, a->cluster_list.p + i);
		j_end(j, ']');
	}
	if (a->all.len > 0) {
		struct bgp_attr_iter it = { a->all.p, a->all.len, 0 };
		struct bgp_attr at;
		bool open = false;

		for (unsigned k = 0; k < 4096 && bgp_attr_next(&it, &at) == 1; k++) {
			if (attr_known(at.type))
				continue;
			if (!open) {
				j_key(j, "unknown");
				j_begin(j, '[');
				open = true;
			}
			j_begin(j, '{');
			j_key(j, "type");
			j_u64(j, at.type);
			j_key(j, "flags");
			j_u64(j, at.flags);
			j_key(j, "value");
			j_hex(j, at.val, at.len);
			j_end(j, '}');
		}
		if (open)
			j_end(j, ']');
	}
	j_end(j, '}');
}

static void
j_nlri(struct dec *d, const struct bgp_nlri *n)
{
	struct bgp_prefix p;
	size_t pos = 0;

	for (unsigned k = 0; k <= n->count && bgp_nlri_next(n, &pos, &p) == 1; k++)
		j_prefix(&d->j, &p, n->addpath);
}

static void
j_update(struct dec *d, const struct msgctx *m, const struct bgp_update *u)
{
	struct jw *j = &d->j;
	const struct bgp_attrs *a = &u->attrs;

	j_common(d, m, "UPDATE");
	if (m->addpath_guess) {
		j_key(j, "addpath_inferred");
		j_bool(j, true);
	}
	j_key(j, "action");
	j_str(j, bgp_action_name(u->action));
	if (u->action != BGP_ACT_OK && u->err.reason != NULL) {
		j_key(j, "reason");
		j_str(j, u->err.reason);
	}
	if (u->action == BGP_ACT_RESET) {
		j_key(j, "error");
		j_begin(j, '{');
		j_key(j, "code");
		j_u64(j, u->err.code);
		j_key(j, "subcode");
		j_u64(j, u->err.subcode);
		j_key(j, "name");
		j_str(j, bgp_err_name(u->err.code, u->err.subcode));
		j_end(j, '}');
		j_finish(d);
		return;
	}
	if (u->n_discarded > 0) {
		j_key(j, "discarded");
		j_u64(j, u->n_discarded);
	}
	if (u->eor) {
		j_key(j, "end_of_rib");
		j_str(j, af_name(u->eor_af));
	}
	if (u->withdrawn.count + u->mp_unreach.count > 0) {
		j_key(j, "withdrawn");
		j_begin(j, '[');
		j_nlri(d, &u->withdrawn);
		j_nlri(d, &u->mp_unreach);
		j_end(j, ']');
	}
	if (u->nlri.count + u->mp_reach.count > 0) {
		j_key(j, "announce");
		j_begin(j, '[');
		if (u->nlri.count > 0) {
			j_begin(j, '{');
			j_key(j, "next_hop");
			if (has(a, BGP_ATTR_NEXT_HOP))
				j_id(j, a->nexthop);
			else
				j_str(j, "");
			j_key(j, "prefixes");
			j_begin(j, '[');
			j_nlri(d, &u->nlri);
			j_end(j, ']');
			j_end(j, '}');
		}
		if (u->mp_reach.count > 0) {
			j_begin(j, '{');
			j_key(j, "next_hop");
			if (a->mp_nh_len == 16 || a->mp_nh_len == 32)
				j_ip(j, BGP_AF_IPV6, a->mp_nh);
			else if (a->mp_nh_len == 4)
				j_ip(j, BGP_AF_IPV4, a->mp_nh);
			else
				j_hex(j, a->mp_nh, a->mp_nh_len);
			if (a->mp_nh_len == 32) {
				j_key(j, "link_local");
				j_ip(j, BGP_AF_IPV6, a->mp_nh + 16);
			}
			j_key(j, "prefixes");
			j_begin(j, '[');
			j_nlri(d, &u->mp_reach);
			j_end(j, ']');
			j_end(j, '}');
		}
		j_end(j, ']');
	}
	if (a->mask != 0)
		j_attrs(d, u);
	j_finish(d);
}

static void
j_open(struct dec *d, const struct msgctx *m, const struct bgp_open *o)
{
	struct jw *j = &d->j;
	static const struct {
		uint32_t bit;
		const char *name;
	} flags[] = {
		{ BGP_CAPF_RREFRESH, "route_refresh" },
		{ BGP_CAPF_RREFRESH_OLD, "route_refresh_old" },
		{ BGP_CAPF_EXTMSG, "extended_message" },
		{ BGP_CAPF_ERR, "enhanced_route_refresh" },
	};

	j_common(d, m, "OPEN");
	j_key(j, "version");
	j_u64(j, o->version);
	j_key(j, "my_as");
	j_u64(j, o->my_as);
	j_key(j, "open_asn");
	j_u64(j, o->asn);
	j_key(j, "hold_time");
	j_u64(j, o->hold_time);
	j_key(j, "router_id");
	{
		uint32_t nbo = htonl(o->bgp_id);

		j_id(j, nbo);
	}
	j_key(j, "capabilities");
	j_begin(j, '{');
	if (o->caps & BGP_CAPF_MP) {
		j_key(j, "multiprotocol");
		j_begin(j, '[');
		for (unsigned af = 0; af < BGP_AF_MAX; af++)
			if (o->mp[af])
				j_str(j, af_name((uint8_t)af));
		j_end(j, ']');
	}
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (o->caps & flags[i].bit) {
			j_key(j, flags[i].name);
			j_bool(j, true);
		}
	}
	if (o->caps & BGP_CAPF_AS4) {
		j_key(j, "as4");
		j_u64(j, o->asn);
	}
	if (o->caps & BGP_CAPF_ADDPATH) {
		static const char *const ap[] = { "none", "receive", "send", "send/receive" };

		j_key(j, "add_path");
		j_begin(j, '{');
		for (unsigned af = 0; af < BGP_AF_MAX; af++) {
			if (o->addpath[af]) {
				j_key(j, af_name((uint8_t)af));
				j_str(j, ap[o->addpath[af] & 3]);
			}
		}
		j_end(j, '}');
	}
	if (o->caps & BGP_CAPF_GR) {
		j_key(j, "graceful_restart");
		j_begin(j, '{');
		j_key(j, "flags");
		j_u64(j, o->gr.restart_flags);
		j_key(j, "time");
		j_u64(j, o->gr.restart_time);
		j_key(j, "families");
		j_begin(j, '[');
		for (unsigned af = 0; af < BGP_AF_MAX; af++)
			if (o->gr.af[af])
				j_str(j, af_name((uint8_t)af));
		j_end(j, ']');
		j_end(j, '}');
	}
	if (o->caps & BGP_CAPF_FQDN) {
		j_key(j, "fqdn");
		j_begin(j, '{');
		j_key(j, "host");
		j_str(j, o->fqdn_host);
		j_key(j, "domain");
		j_str(j, o->fqdn_domain);
		j_end(j, '}');
	}
	if (o->n_unknown > 0) {
		j_key(j, "other");
		j_begin(j, '[');
		for (unsigned i = 0; i < o->n_unknown && i < BGP_OPEN_MAX_UNKNOWN_CAPS; i++) {
			j_begin(j, '{');
			j_key(j, "code");
			j_u64(j, o->unknown[i].code);
			j_key(j, "length");
			j_u64(j, o->unknown[i].len);
			if (o->unknown[i].afi != 0) {
				j_key(j, "afi");
				j_u64(j, o->unknown[i].afi);
				j_key(j, "safi");
				j_u64(j, o->unknown[i].safi);
			}
			j_end(j, '}');
		}
		j_end(j, ']');
	}
	j_end(j, '}');
	j_finish(d);
}

static void
j_bad_message(struct dec *d, const struct msgctx *m, const char *type, const struct bgp_error *e)
{
	struct jw *j = &d->j;

	j_common(d, m, type);
	j_key(j, "action");
	j_str(j, "invalid");
	j_key(j, "reason");
	j_str(j, e->reason != NULL ? e->reason : bgp_err_name(e->code, e->subcode));
	j_key(j, "error");
	j_begin(j, '{');
	j_key(j, "code");
	j_u64(j, e->code);
	j_key(j, "subcode");
	j_u64(j, e->subcode);
	j_key(j, "name");
	j_str(j, bgp_err_name(e->code, e->subcode));
	j_end(j, '}');
	j_finish(d);
}

/* ---- one BGP message ------------------------------------------------------------------------ */
static void
sess_for(struct bgp_sess *s, bool as4, bool addpath, bool ibgp)
{
	bgp_sess_init(s);
	s->as4 = as4;
	/* A dump may hold any message the peer could send: extended messages,
	 * both families. */
	s->ext_msg = true;
	s->ibgp = ibgp;
	for (unsigned af = 0; af < BGP_AF_MAX; af++) {
		s->af[af] = 1;
		s->addpath_rx[af] = addpath;
	}
}

/* bgpdump prints some UPDATEs the codec rightly refuses; to print the same
 * lines, rework a copy of the message in d->patch (returns 1 when it did):
 *  - IPv4/IPv6 multicast (SAFI 2) in MP_(UN)REACH_NLRI: not a family we route,
 *    so the codec discards the attribute; bgpdump prints the routes as any
 *    other. The copy says SAFI 1 (RFC 4760 §3, §4: AFI and SAFI lead both).
 *  - an IPv4 NLRI field whose last prefix runs past the end of the message
 *    (RFC 7606 §5.3: session reset); bgpdump prints the whole prefixes before
 *    it. The copy ends after the last whole prefix; a warning names the cut. */
static int
bd_rework(struct dec *d, const struct msgctx *m, const uint8_t *msg, size_t len,
          const struct bgp_sess *s, const struct bgp_update *u, const char *where)
{
	struct bgp_attr_iter it = { u->attrs.all.p, u->attrs.all.len, 0 };
	struct bgp_attr at;
	bool patched = false;

	(void)m;
	if (u->action == BGP_ACT_RESET && u->err.code == BGP_ERR_UPDATE &&
	    u->err.subcode == BGP_ERR_UPD_NETWORK && len >= BGP_UPDATE_MIN_LEN) {
		size_t wlen = rd16(msg + BGP_HDR_LEN), i, alen;
		unsigned whole = 0;

		if (BGP_HDR_LEN + 2 + wlen + 2 > len)
			return 0;
		alen = rd16(msg + BGP_HDR_LEN + 2 + wlen);
		i = BGP_HDR_LEN + 4 + wlen + alen;
		if (i > len)
			return 0;
		/* Bounded: each step consumes at least one byte. */
		while (i < len) {
			size_t pl = s->addpath_rx[BGP_AF_IPV4] ? 4 : 0, n;

			if (len - i < pl + 1 || msg[i + pl] > 32)
				break;
			n = pl + 1 + (msg[i + pl] + 7u) / 8;
			if (len - i < n)
				break;
			i += n;
			whole++;
		}
		if (i == len || whole == 0)
			return 0;
		memcpy(d->patch, msg, i);
		d->patch[16] = (uint8_t)(i >> 8);
		d->patch[17] = (uint8_t)i;
		d->st.salvaged++;
		ob_flush(&d->out);
		fflush(d->out.f);
		fprintf(stderr, "routehubctl decode: %s: %s: warning: UPDATE NLRI: %zu trailing "
		                "byte(s) are not a whole prefix (RFC 7606 §5.3 session reset); "
		                "printing the %u prefix(es) before them, as bgpdump does\n",
		        d->file, where, len - i, whole);
		return 1;
	}
	for (unsigned k = 0; k < 4096 && bgp_attr_next(&it, &at) == 1; k++) {
		size_t off;

		if ((at.type != BGP_ATTR_MP_REACH_NLRI && at.type != BGP_ATTR_MP_UNREACH_NLRI) ||
		    at.len < 3 || at.val[2] != 2 || at.val[0] != 0 ||
		    (at.val[1] != BGP_AFI_IPV4 && at.val[1] != BGP_AFI_IPV6))
			continue;
		if (!patched)
			memcpy(d->patch, msg, len);
		off = (size_t)(at.val - msg);
		if (off + 2 >= len)
			return 0;
		d->patch[off + 2] = BGP_SAFI_UNICAST;
		patched = true;
	}
	return patched ? 1 : 0;
}

static void
count_update(struct dec *d, const struct bgp_update *u)
{
	d->st.act[u->action]++;
	if (u->action == BGP_ACT_RESET)
		return;
	d->st.withdrawn += (uint64_t)u->withdrawn.count + u->mp_unreach.count;
	d->st.announced += (uint64_t)u->nlri.count + u->mp_reach.count;
	if (u->eor)
		d->st.eor++;
}

static void
do_message(struct dec *d, struct msgctx *m, const uint8_t *msg, size_t len, bool as4,
           bool addpath, bool ibgp, const char *where)
{
	struct bgp_error err;
	struct bgp_update u;
	struct bgp_sess s;
	uint16_t msglen;
	uint8_t type;

	memset(&err, 0, sizeof(err));
	if (len < BGP_HDR_LEN || bgp_hdr_check(msg, len, BGP_MAX_EXT_MSG, &type, &msglen, &err) == -1) {
		d->st.msgs[0]++;
		dec_error(d, "%s: bad BGP message header: %s", where,
		          err.reason != NULL ? err.reason : "too short");
		if (!d->summary && d->fmt == CTL_FMT_JSON)
			j_bad_message(d, m, "INVALID", &err);
		return;
	}
	if (msglen != len) {
		d->st.msgs[0]++;
		dec_error(d, "%s: BGP message length %u does not match the %zu bytes present",
		          where, msglen, len);
		return;
	}
	d->st.msgs[type <= 5 ? type : 0]++;
	m->as4 = as4;
	switch (type) {
	case BGP_MSG_UPDATE:
		sess_for(&s, as4, addpath, ibgp);
		bgp_update_decode(msg, len, &s, &u);
		if (u.action == BGP_ACT_RESET && !addpath && u.err.code == BGP_ERR_UPDATE &&
		    (u.err.subcode == BGP_ERR_UPD_NETWORK || u.err.subcode == BGP_ERR_UPD_OPTATTR ||
		     u.err.subcode == BGP_ERR_UPD_ATTRLIST)) {
			/* Some writers (BIRD 1.x) dump ADD-PATH sessions with the plain
			 * MESSAGE subtypes: if the NLRI only make sense with path
			 * identifiers (RFC 7911 §3), read them so, and say so. */
			struct bgp_update u2;

			sess_for(&s, as4, true, ibgp);
			if (bgp_update_decode(msg, len, &s, &u2) == 0) {
				u = u2;
				m->addpath_guess = true;
				d->st.addpath_guess++;
			} else {
				sess_for(&s, as4, false, ibgp);
			}
		}
		count_update(d, &u);
		if (d->summary)
			return;
		if (d->fmt == CTL_FMT_BGPDUMP) {
			if (bd_rework(d, m, msg, len, &s, &u, where) == 1)
				bgp_update_decode(d->patch, rd16(d->patch + 16), &s, &u);
			bd_update(d, m, &u);
		} else {
			j_update(d, m, &u);
		}
		return;
	case BGP_MSG_OPEN: {
		struct bgp_open o;

		if (bgp_open_decode(msg, len, &o, &err) == -1) {
			d->st.act[BGP_ACT_RESET]++;
			if (!d->summary && d->fmt == CTL_FMT_JSON)
				j_bad_message(d, m, "OPEN", &err);
			return;
		}
		if (!d->summary && d->fmt == CTL_FMT_JSON)
			j_open(d, m, &o);
		return;
	}
	case BGP_MSG_NOTIFICATION: {
		struct bgp_notify n;
		struct jw *j = &d->j;

		if (bgp_notify_decode(msg, len, &n, &err) == -1) {
			if (!d->summary && d->fmt == CTL_FMT_JSON)
				j_bad_message(d, m, "NOTIFICATION", &err);
			return;
		}
		if (d->summary || d->fmt != CTL_FMT_JSON)
			return;
		j_common(d, m, "NOTIFICATION");
		j_key(j, "code");
		j_u64(j, n.code);
		j_key(j, "subcode");
		j_u64(j, n.subcode);
		j_key(j, "name");
		j_str(j, bgp_err_name(n.code, n.subcode));
		if (n.data_len > 0) {
			j_key(j, "data");
			j_hex(j, n.data, n.data_len);
		}
		if (n.shutdown_msg[0] != '\0') {
			j_key(j, "shutdown_message");
			j_str(j, n.shutdown_msg);
		}
		j_finish(d);
		return;
	}
	case BGP_MSG_KEEPALIVE:
		if (!d->summary && d->fmt == CTL_FMT_JSON) {
			j_common(d, m, "KEEPALIVE");
			j_finish(d);
		}
		return;
	case BGP_MSG_ROUTE_REFRESH: {
		struct bgp_rrefresh r;
		struct jw *j = &d->j;

		if (bgp_rrefresh_decode(msg, len, &r, &err) == -1) {
			if (!d->summary && d->fmt == CTL_FMT_JSON)
				j_bad_message(d, m, "ROUTE_REFRESH", &err);
			return;
		}
		if (d->summary || d->fmt != CTL_FMT_JSON)
			return;
		j_common(d, m, "ROUTE_REFRESH");
		j_key(j, "afi");
		j_u64(j, r.afi);
		j_key(j, "safi");
		j_u64(j, r.safi);
		j_key(j, "subtype");
		j_u64(j, r.subtype);
		j_finish(d);
		return;
	}
	default:
		return; /* bgp_hdr_check rejects other types */
	}
}

/* ---- MRT records ------------------------------------------------------------------------- */
static void
set_time(struct msgctx *m, const struct mrt_record *rec)
{
	size_t n = fmt_u64(m->time, rec->hdr.timestamp);

	if (rec->hdr.type == MRT_TYPE_BGP4MP_ET) {
		/* RFC 6396 §3: microseconds; bgpdump prints "%u.%06u". */
		char us[8];
		uint32_t v = rec->hdr.usec;

		for (int i = 5; i >= 0; i--) {
			us[i] = (char)('0' + v % 10);
			v /= 10;
		}
		m->time[n++] = '.';
		memcpy(m->time + n, us, 6);
		n += 6;
	}
	m->time[n] = '\0';
}

static void
do_bgp4mp(struct dec *d, const struct mrt_record *rec)
{
	struct mrt_bgp4mp mp;
	struct mrt_err e = { NULL, 0 };
	struct msgctx m;
	char where[64];

	if (mrt_bgp4mp_parse(rec->hdr.subtype, rec->body, rec->body_len, &mp, &e) == -1) {
		if (e.reason != NULL && strcmp(e.reason, "unsupported BGP4MP subtype") == 0) {
			/* ENTRY and SNAPSHOT (RFC 6396 §4.4: deprecated), or newer
			 * subtypes: skipped and counted, as unknown record types. */
			d->st.skipped++;
			return;
		}
		dec_error(d, "record %llu at offset %llu: %s (body byte %zu)",
		          (unsigned long long)rec->index, (unsigned long long)rec->offset, e.reason,
		          e.off);
		return;
	}
	peer_seen(d, mp.peer_ip.af, mp.peer_ip.addr, mp.peer_as);
	memset(&m, 0, sizeof(m));
	/* bgpdump's labels: _ET for microsecond records, _AP for RFC 8050
	 * ADD-PATH subtypes (whose lines carry the path id after the prefix). */
	m.label = rec->hdr.type == MRT_TYPE_BGP4MP_ET ? "BGP4MP_ET"
	          : mp.addpath                         ? "BGP4MP_AP"
	                                               : "BGP4MP";
	m.rec = rec;
	m.mp = &mp;
	set_time(&m, rec);
	if (mp.state) {
		d->st.states++;
		if (d->summary)
			return;
		if (d->fmt == CTL_FMT_BGPDUMP) {
			bd_head(d, &m);
			ob_put(&d->out, "STATE|", 6);
			bd_peer(d, &mp.peer_ip, mp.peer_as);
			ob_u64(&d->out, mp.old_state);
			ob_c(&d->out, '|');
			ob_u64(&d->out, mp.new_state);
			ob_c(&d->out, '\n');
		} else {
			struct jw *j = &d->j;

			j_common(d, &m, "STATE_CHANGE");
			j_key(j, "old_state");
			j_str(j, state_name(mp.old_state));
			j_key(j, "new_state");
			j_str(j, state_name(mp.new_state));
			j_finish(d);
		}
		return;
	}
	snprintf(where, sizeof(where), "record %llu at offset %llu", (unsigned long long)rec->index,
	         (unsigned long long)rec->offset);
	do_message(d, &m, mp.msg, mp.msg_len, mp.as4, mp.addpath, mp.peer_as == mp.local_as, where);
}

/* Wrap a RIB entry's attribute list into an UPDATE the codec can decode
 * (RFC 4271 §4.3): no withdrawn routes, the attributes, no NLRI. The
 * abbreviated MP_REACH_NLRI of RFC 6396 §4.3.4 is rewritten into RFC 4760
 * form first. Returns 0 with *len, -1 if the list is malformed or too long. */
static int
synth_update(struct dec *d, const uint8_t *attrs, size_t alen, uint16_t afi, uint8_t safi,
             size_t *len)
{
	size_t xlen, total;
	bool had_mp;

	if (mrt_attrs_expand(attrs, alen, afi, safi, NULL, 0, d->attrbuf, BGP_MAX_EXT_MSG, &xlen,
	                     &had_mp) == -1)
		return -1;
	total = BGP_HDR_LEN + 4 + xlen;
	if (total > BGP_MAX_EXT_MSG)
		return -1;
	memset(d->synth, 0xff, BGP_MARKER_LEN);
	d->synth[16] = (uint8_t)(total >> 8);
	d->synth[17] = (uint8_t)total;
	d->synth[18] = BGP_MSG_UPDATE;
	d->synth[19] = 0;
	d->synth[20] = 0;
	d->synth[21] = (uint8_t)(xlen >> 8);
	d->synth[22] = (uint8_t)xlen;
	memcpy(d->synth + 23, d->attrbuf, xlen);
	*len = total;
	return 0;
}

/* One RIB entry (TABLE_DUMP or TABLE_DUMP_V2) for peer/asn. */
static void
rib_entry_out(struct dec *d, const struct mrt_record *rec, const char *label,
              const struct bgp_prefix *pfx, bool addpath, const struct mrt_addr *peer,
              uint32_t peer_as, uint32_t originated, const uint8_t *attrs, size_t alen,
              bool as4, uint16_t afi, uint8_t safi)
{
	struct bgp_update u;
	struct bgp_sess s;
	struct msgctx m;
	size_t len;

	d->st.rib_entries++;
	if (synth_update(d, attrs, alen, afi, safi, &len) == -1) {
		dec_error(d, "record %llu at offset %llu: RIB entry attributes malformed or too long",
		          (unsigned long long)rec->index, (unsigned long long)rec->offset);
		return;
	}
	/* iBGP: a RIB entry may carry LOCAL_PREF and confederation segments;
	 * the synthesized UPDATE has no NLRI, so nothing is "missing". */
	sess_for(&s, as4, false, true);
	bgp_update_decode(d->synth, len, &s, &u);
	d->st.act[u.action]++;
	if (d->summary)
		return;
	memset(&m, 0, sizeof(m));
	m.label = label;
	m.rec = rec;
	set_time(&m, rec);
	if (d->fmt == CTL_FMT_BGPDUMP) {
		char buf[PFX_STRLEN];

		if (u.action == BGP_ACT_RESET)
			memset(&u.attrs, 0, sizeof(u.attrs)); /* print what bgpdump would: nothing */
		bd_attrs(d, &u, as4);
		bd_head(d, &m);
		ob_put(&d->out, "B|", 2);
		bd_peer(d, peer, peer_as);
		ob_put(&d->out, buf, fmt_prefix_bgpdump(buf, pfx));
		ob_c(&d->out, '|');
		if (addpath) {
			ob_u64(&d->out, pfx->path_id);
			ob_c(&d->out, '|');
		}
		ob_put(&d->out, d->sfx_pre.p, d->sfx_pre.len);
		bd_nexthop(d, &u.attrs, pfx->af);
		ob_put(&d->out, d->sfx_post.p, d->sfx_post.len);
		return;
	}
	{
		struct jw *j = &d->j;
		const struct bgp_attrs *a = &u.attrs;

		j_common(d, &m, "RIB");
		j_key(j, "peer");
		j_ip(j, peer->af, peer->addr);
		j_key(j, "asn");
		j_u64(j, peer_as);
		j_key(j, "prefix");
		j_prefix(j, pfx, false);
		if (addpath) {
			j_key(j, "path_id");
			j_u64(j, pfx->path_id);
		}
		j_key(j, "originated");
		j_u64(j, originated);
		if (has(a, BGP_ATTR_MP_REACH_NLRI) && a->mp_nh_len > 0) {
			j_key(j, "next_hop");
			if (a->mp_nh_len == 16 || a->mp_nh_len == 32)
				j_ip(j, BGP_AF_IPV6, a->mp_nh);
			else if (a->mp_nh_len == 4)
				j_ip(j, BGP_AF_IPV4, a->mp_nh);
			else
				j_hex(j, a->mp_nh, a->mp_nh_len);
		}
		j_key(j, "action");
		j_str(j, bgp_action_name(u.action));
		if (u.action != BGP_ACT_OK && u.err.reason != NULL) {
			j_key(j, "reason");
			j_str(j, u.err.reason);
		}
		if (u.action != BGP_ACT_RESET && a->mask != 0)
			j_attrs(d, &u);
		j_finish(d);
	}
}

static void
do_table_dump(struct dec *d, const struct mrt_record *rec)
{
	struct mrt_td t;
	struct mrt_err e = { NULL, 0 };

	if (mrt_td_parse(rec->hdr.subtype, rec->body, rec->body_len, &t, &e) == -1) {
		dec_error(d, "record %llu at offset %llu: %s (body byte %zu)",
		          (unsigned long long)rec->index, (unsigned long long)rec->offset, e.reason,
		          e.off);
		return;
	}
	peer_seen(d, t.peer_ip.af, t.peer_ip.addr, t.peer_as);
	rib_entry_out(d, rec, "TABLE_DUMP", &t.prefix, false, &t.peer_ip, t.peer_as, t.originated,
	              t.attrs, t.attrs_len, false, t.prefix.af == BGP_AF_IPV6 ? 2 : 1, 1);
}

static void
do_peer_index(struct dec *d, const struct mrt_record *rec)
{
	struct mrt_peer_index pi;
	struct mrt_peer p;
	struct mrt_err e = { NULL, 0 };
	size_t pos = 0;
	unsigned n = 0;

	if (mrt_peer_index_parse(rec->body, rec->body_len, &pi, &e) == -1) {
		dec_error(d, "record %llu at offset %llu: %s (body byte %zu)",
		          (unsigned long long)rec->index, (unsigned long long)rec->offset, e.reason,
		          e.off);
		return;
	}
	free(d->peers);
	d->npeers = 0;
	d->peers = calloc(pi.count ? pi.count : 1, sizeof(*d->peers));
	if (d->peers == NULL) {
		dec_error(d, "out of memory");
		return;
	}
	while (n < pi.count && mrt_peer_index_next(&pi, &pos, &p) == 1) {
		d->peers[n].ip = p.ip;
		d->peers[n].asn = p.asn;
		peer_seen(d, p.ip.af, p.ip.addr, p.asn);
		n++;
	}
	d->npeers = n;
	if (d->summary || d->fmt != CTL_FMT_JSON)
		return;
	{
		struct jw *j = &d->j;
		struct msgctx m;

		memset(&m, 0, sizeof(m));
		m.rec = rec;
		set_time(&m, rec);
		j_common(d, &m, "PEER_INDEX_TABLE");
		j_key(j, "collector_id");
		j_id(j, pi.collector_id);
		j_key(j, "view");
		j_strn(j, (const char *)pi.view_name, pi.view_name_len);
		j_key(j, "peers");
		j_begin(j, '[');
		pos = 0;
		for (unsigned k = 0; k < pi.count && mrt_peer_index_next(&pi, &pos, &p) == 1; k++) {
			j_begin(j, '{');
			j_key(j, "ip");
			j_ip(j, p.ip.af, p.ip.addr);
			j_key(j, "asn");
			j_u64(j, p.asn);
			j_key(j, "bgp_id");
			j_id(j, p.bgp_id);
			j_end(j, '}');
		}
		j_end(j, ']');
		j_finish(d);
	}
}

static void
do_rib(struct dec *d, const struct mrt_record *rec)
{
	struct mrt_rib r;
	struct mrt_rib_entry re;
	struct mrt_err e = { NULL, 0 };
	size_t pos = 0;
	const char *label;

	if (mrt_rib_parse(rec->hdr.subtype, rec->body, rec->body_len, &r, &e) == -1) {
		dec_error(d, "record %llu at offset %llu: %s (body byte %zu)",
		          (unsigned long long)rec->index, (unsigned long long)rec->offset, e.reason,
		          e.off);
		return;
	}
	label = r.addpath ? "TABLE_DUMP2_AP" : "TABLE_DUMP2";
	for (unsigned k = 0; k < r.count && mrt_rib_entry_next(&r, &pos, &re) == 1; k++) {
		struct bgp_prefix pfx = r.prefix;

		if (re.peer_index >= d->npeers) {
			dec_error(d, "record %llu at offset %llu: RIB entry %u: peer index %u not in "
			          "the PEER_INDEX_TABLE (%u peers)",
			          (unsigned long long)rec->index, (unsigned long long)rec->offset, k,
			          re.peer_index, d->npeers);
			continue;
		}
		pfx.path_id = re.path_id;
		/* RFC 6396 §4.3.4: attributes in TABLE_DUMP_V2 use 4-octet AS numbers. */
		rib_entry_out(d, rec, label, &pfx, r.addpath, &d->peers[re.peer_index].ip,
		              d->peers[re.peer_index].asn, re.originated, re.attrs, re.attrs_len,
		              true, r.afi, r.safi);
	}
}

static void
do_record(struct dec *d, const struct mrt_record *rec)
{
	d->st.records++;
	switch (rec->hdr.type) {
	case MRT_TYPE_TABLE_DUMP:
		d->st.rec_type[0]++;
		do_table_dump(d, rec);
		return;
	case MRT_TYPE_TABLE_DUMP_V2:
		d->st.rec_type[1]++;
		if (rec->hdr.subtype == MRT_TD2_PEER_INDEX_TABLE) {
			do_peer_index(d, rec);
		} else if (mrt_td2_is_rib(rec->hdr.subtype)) {
			do_rib(d, rec);
		} else {
			/* RIB_GENERIC (RFC 6396 §4.3.3) carries AFI/SAFI we do not route. */
			d->st.skipped++;
		}
		return;
	case MRT_TYPE_BGP4MP:
		d->st.rec_type[2]++;
		do_bgp4mp(d, rec);
		return;
	case MRT_TYPE_BGP4MP_ET:
		d->st.rec_type[3]++;
		do_bgp4mp(d, rec);
		return;
	default:
		d->st.rec_other++;
		d->st.skipped++;
		return;
	}
}

static int
decode_mrt(struct dec *d, const char *path)
{
	struct mrt_reader *r;
	struct mrt_record rec;
	char err[512];
	int rc;

	r = mrt_reader_open(path, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "routehubctl decode: %s\n", err);
		return -1;
	}
	free(d->peers);
	d->peers = NULL;
	d->npeers = 0;
	/* Bounded by the file: each call consumes a record or ends. */
	while ((rc = mrt_reader_next(r, &rec)) != 0 && !d->out.fail) {
		if (rc == -1) {
			dec_error(d, "%s", mrt_reader_error(r));
			continue;
		}
		do_record(d, &rec);
	}
	mrt_reader_free(r);
	return 0;
}

/* ---- hex text input ------------------------------------------------------------------------ */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A line of hex digits (spaces, tabs and ':' between bytes allowed, optional
 * leading "0x") into out. Returns the byte count, or -1 if the line is not hex
 * or is longer than cap. */
static long
hex_line(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;
	int hi = -1;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
		i += 2;
	for (; i < n; i++) {
		int v = hexval((unsigned char)s[i]);

		if (v == -1) {
			if ((s[i] == ' ' || s[i] == '\t' || s[i] == ':' || s[i] == '\r') && hi == -1)
				continue;
			return -1;
		}
		if (hi == -1) {
			hi = v;
			continue;
		}
		if (o == cap)
			return -1;
		out[o++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi == -1 ? (long)o : -1;
}

/* Text with one hex message per line? The first bytes (decompressed) hold no
 * NUL and no binary, and a BGP marker (32 'f's) appears. */
static bool
looks_hex(const uint8_t *p, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t'))
			return false;
	}
	for (size_t i = 0; i < n; i++) {
		run = (p[i] == 'f' || p[i] == 'F') ? run + 1 : 0;
		if (run == 32)
			return true;
	}
	return false;
}

static int
decode_hex(struct dec *d, gzFile gz)
{
	char *line;
	size_t cap = 2 * BGP_MAX_EXT_MSG + 1024;
	uint64_t lineno = 0;

	line = malloc(cap);
	if (line == NULL)
		return -1;
	/* Bounded by the file. */
	while (gzgets(gz, line, (int)cap) != NULL && !d->out.fail) {
		size_t n = strlen(line);
		struct msgctx m;
		char where[48];
		long len;

		lineno++;
		if (n > 0 && line[n - 1] != '\n' && !gzeof(gz)) {
			dec_error(d, "line %llu: longer than a BGP message, skipped",
			          (unsigned long long)lineno);
			/* Skip the rest of the line (bounded by the file). */
			while (gzgets(gz, line, (int)cap) != NULL) {
				n = strlen(line);
				if (n > 0 && line[n - 1] == '\n')
					break;
			}
			continue;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		len = hex_line(line, n, d->synth, d->synth_cap);
		if (len <= 0) {
			/* Blank lines, comments, and the other lines of annotated
			 * test files (an address family, an expected decoding). */
			d->st.lines_skipped++;
			continue;
		}
		d->st.lines++;
		memset(&m, 0, sizeof(m));
		m.label = "HEX";
		m.line = lineno;
		snprintf(where, sizeof(where), "line %llu", (unsigned long long)lineno);
		do_message(d, &m, d->synth, (size_t)len, !d->hex_as2, d->hex_addpath, !d->hex_ebgp,
		           where);
	}
	free(line);
	return 0;
}

static int
decode_file(struct dec *d, const char *path)
{
	uint8_t head[512];
	gzFile gz;
	int n, rc;

	d->file = path;
	d->st.files++;
	gz = gzopen(path, "rb");
	if (gz == NULL) {
		fprintf(stderr, "routehubctl decode: %s: %s\n", path,
		        errno ? strerror(errno) : "cannot open");
		return -1;
	}
	n = gzread(gz, head, sizeof(head));
	if (n < 0 || mrt_detect_compress(head, (size_t)n) == MRT_COMPRESS_BZIP2 ||
	    !looks_hex(head, (size_t)n)) {
		gzclose(gz);
		return decode_mrt(d, path);
	}
	gzrewind(gz);
	rc = decode_hex(d, gz);
	gzclose(gz);
	return rc;
}

/* ---- summary ---------------------------------------------------------------------------------- */
static void
summary(struct dec *d, double secs)
{
	const struct dec_stats *s = &d->st;
	FILE *f = d->out.f;
	uint64_t pfx = s->announced + s->withdrawn + s->rib_entries;

	ob_flush(&d->out);
	fprintf(f, "files              %llu\n", (unsigned long long)s->files);
	fprintf(f, "records            %llu", (unsigned long long)s->records);
	if (s->records > 0)
		fprintf(f, "  (TABLE_DUMP %llu, TABLE_DUMP_V2 %llu, BGP4MP %llu, BGP4MP_ET %llu, other %llu)",
		        (unsigned long long)s->rec_type[0], (unsigned long long)s->rec_type[1],
		        (unsigned long long)s->rec_type[2], (unsigned long long)s->rec_type[3],
		        (unsigned long long)s->rec_other);
	fputc('\n', f);
	if (s->lines > 0 || s->lines_skipped > 0)
		fprintf(f, "hex lines          %llu  (other lines skipped %llu)\n",
		        (unsigned long long)s->lines, (unsigned long long)s->lines_skipped);
	fprintf(f, "messages           OPEN %llu, UPDATE %llu, NOTIFICATION %llu, KEEPALIVE %llu, "
	           "ROUTE-REFRESH %llu, invalid %llu\n",
	        (unsigned long long)s->msgs[1], (unsigned long long)s->msgs[2],
	        (unsigned long long)s->msgs[3], (unsigned long long)s->msgs[4],
	        (unsigned long long)s->msgs[5], (unsigned long long)s->msgs[0]);
	fprintf(f, "state changes      %llu\n", (unsigned long long)s->states);
	fprintf(f, "prefixes           announced %llu, withdrawn %llu\n",
	        (unsigned long long)s->announced, (unsigned long long)s->withdrawn);
	fprintf(f, "rib entries        %llu\n", (unsigned long long)s->rib_entries);
	fprintf(f, "end-of-rib         %llu\n", (unsigned long long)s->eor);
	fprintf(f, "peers              %zu\n", d->seen.n);
	fprintf(f, "outcomes           ok %llu, attribute-discard %llu, treat-as-withdraw %llu, "
	           "session-reset %llu\n",
	        (unsigned long long)s->act[BGP_ACT_OK], (unsigned long long)s->act[BGP_ACT_DISCARD],
	        (unsigned long long)s->act[BGP_ACT_WITHDRAW],
	        (unsigned long long)s->act[BGP_ACT_RESET]);
	if (s->addpath_guess > 0)
		fprintf(f, "add-path inferred  %llu UPDATEs (plain subtype, path ids in NLRI)\n",
		        (unsigned long long)s->addpath_guess);
	fprintf(f, "errors             %llu  (records skipped %llu)\n",
	        (unsigned long long)s->errors, (unsigned long long)s->skipped);
	fprintf(f, "elapsed            %.3f s  (%.0f prefixes/s)\n", secs,
	        secs > 0 ? (double)pfx / secs : 0.0);
}

/* ---- command line ----------------------------------------------------------------------------- */
void
ctl_decode_usage(void)
{
	fprintf(stderr,
	        "usage: routehubctl decode [--format json|bgpdump] [--summary] [--as2] [--addpath] [--ebgp]\n"
	        "                          FILE...\n"
	        "  FILE: MRT (BGP4MP, BGP4MP_ET, TABLE_DUMP, TABLE_DUMP_V2; plain, gzip or\n"
	        "        bzip2) or text with one hex BGP message per line\n"
	        "  --format json     one JSON object per message or RIB entry (default)\n"
	        "  --format bgpdump  one line per route, as `bgpdump -m`\n"
	        "  --summary         only counts, elapsed time and prefixes/s\n"
	        "  --as2, --addpath, --ebgp\n"
	        "                    session for hex input (default: 4-octet AS, no ADD-PATH, iBGP)\n");
}

int
ctl_decode_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "summary", no_argument, NULL, 's' },
		{ "as2", no_argument, NULL, '2' },
		{ "addpath", no_argument, NULL, 'a' },
		{ "ebgp", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dec d;
	struct timespec t0, t1;
	int c, status = 0;

	memset(&d, 0, sizeof(d));
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:s2aeh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") == 0) {
				d.fmt = CTL_FMT_JSON;
			} else if (strcmp(optarg, "bgpdump") == 0) {
				d.fmt = CTL_FMT_BGPDUMP;
			} else {
				fprintf(stderr, "routehubctl decode: unknown format '%s'\n", optarg);
				ctl_decode_usage();
				return 2;
			}
			break;
		case 's':
			d.summary = true;
			break;
		case '2':
			d.hex_as2 = true;
			break;
		case 'a':
			d.hex_addpath = true;
			break;
		case 'e':
			d.hex_ebgp = true;
			break;
		case 'h':
			ctl_decode_usage();
			return 0;
		default:
			ctl_decode_usage();
			return 2;
		}
	}
	if (optind >= argc) {
		ctl_decode_usage();
		return 2;
	}
	d.out.f = stdout;
	d.out.cap = OB_CAP;
	d.out.buf = malloc(OB_CAP);
	d.j.o = &d.out;
	d.synth_cap = BGP_MAX_EXT_MSG + 64;
	d.synth = malloc(d.synth_cap);
	d.attrbuf = malloc(BGP_MAX_EXT_MSG);
	d.canon = malloc(BGP_CANON_MAX);
	d.patch = malloc(BGP_MAX_EXT_MSG + 64);
	if (d.out.buf == NULL || d.synth == NULL || d.attrbuf == NULL || d.canon == NULL ||
	    d.patch == NULL) {
		fprintf(stderr, "routehubctl decode: out of memory\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = optind; i < argc && !d.out.fail; i++) {
		if (decode_file(&d, argv[i]) == -1)
			status = 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (d.summary)
		summary(&d, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	ob_flush(&d.out);
	if (fflush(stdout) != 0)
		d.out.fail = true;
	if (status == 0 && d.st.errors > 0)
		status = 1;
	if (d.out.fail && status == 0)
		status = 2;
	free(d.out.buf);
	free(d.synth);
	free(d.attrbuf);
	free(d.canon);
	free(d.patch);
	free(d.peers);
	free(d.sfx_pre.p);
	free(d.sfx_post.p);
	free(d.seen.slot);
	return status;
}
