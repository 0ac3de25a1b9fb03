/*
 * replay.c — the replay workload: the UPDATE messages of an MRT file
 * (BGP4MP / BGP4MP_ET, RFC 6396 §4.4-4.5), sent by every feeder in file order
 * with the feeder's own next hop and ASN.
 *
 * Runs on the main thread before the clock starts. Each UPDATE is decoded
 * with the codec (routehub/bgp.h) under the session parameters the MRT record
 * gives (AS width, ADD-PATH; iBGP when peer and local AS are equal), and
 * becomes up to three events (IPv4 withdrawn + NLRI, IPv6 reach, IPv6
 * unreach) over interned attribute sets. What the codec treats as withdraw
 * (RFC 7606) is replayed as withdrawals; what would reset a session is
 * skipped and counted.
 *
 * Attributes are rewritten as an external feeder would send them: the
 * feeder's ASN prepended, its next hop, LOCAL_PREF / ORIGINATOR_ID /
 * CLUSTER_LIST removed (RFC 4271 §5.1.5, RFC 4456 §8) — or, by iBGP feeders
 * (--ibgp-feeders), as a route-reflector client sends them: no ASN
 * prepended, its next hop, its own LOCAL_PREF, no ORIGINATOR_ID /
 * CLUSTER_LIST (lg_aset_add, work.c) — confederation
 * segments removed from AS_PATH (RFC 5065 §5.3), and the RFC 1997
 * well-known communities NO_EXPORT, NO_ADVERTISE and NO_EXPORT_SUBCONFED
 * dropped — a route server honouring them would not pass those routes on,
 * and the expectation would depend on it.
 *
 * Every feeder replays the whole file, so they all form one group (work.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routehub/mrt.h"

#include "lg.h"

/* One event of the timeline; prefixes are table indices in R.pool. */
struct rev {
	uint32_t wd_off, n_wd;
	uint32_t ann_off, n_ann;
	uint32_t aset;
	uint8_t af;
};

/* Interned attribute sets: the codec's canonical form of the original plus
 * the family, hashed. */
struct rkey {
	uint64_t h;
	uint32_t off, len; /* in R.keys */
	uint32_t aset;
	uint8_t af;
};

static struct {
	struct rev *ev;
	size_t n_ev, cap_ev;
	uint32_t *pool;
	size_t n_pool, cap_pool;
	struct rkey *slot;
	uint32_t mask, n_keys;
	uint8_t *keys;
	size_t n_kb, cap_kb;
} R;

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc;
	void *n;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	n = realloc(*p, nc * elem);
	if (!n)
		return -1;
	*p = n;
	*cap = nc;
	return 0;
}

static int
keys_grow(void)
{
	uint32_t ncap = R.mask ? (R.mask + 1) * 2 : 65536;
	struct rkey *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -1;
	for (uint32_t i = 0; R.slot && i <= R.mask; i++) {
		uint32_t s;
		if (!R.slot[i].len)
			continue;
		s = (uint32_t)R.slot[i].h & (ncap - 1);
		while (ns[s].len)
			s = (s + 1) & (ncap - 1);
		ns[s] = R.slot[i];
	}
	free(R.slot);
	R.slot = ns;
	R.mask = ncap - 1;
	return 0;
}

/* The canonical attributes of a set, decoded back so that AS_PATH is in
 * 4-octet form whatever the file's session used: encode them into a
 * one-prefix UPDATE for a 4-octet session and decode it. */
static int
canon_attrs(struct lg_model *m, const uint8_t *canon, size_t clen, uint8_t af, uint8_t *msg,
            struct bgp_update *out)
{
	struct bgp_prefix dummy;
	struct bgp_update_spec spec = {.mp_unreach_af = -1, .attrs = canon, .attrs_len = clen};
	struct bgp_sess s;
	size_t len;

	memset(&dummy, 0, sizeof(dummy));
	dummy.af = af;
	dummy.len = 8;
	dummy.addr[0] = af == BGP_AF_IPV4 ? 11 : 0x20;
	if (af == BGP_AF_IPV4)
		spec.nlri = &dummy, spec.n_nlri = 1;
	else
		spec.mp_reach = &dummy, spec.n_mp_reach = 1;
	lg_enc_sess(m, &s);
	s.ext_msg = true;
	s.ibgp = true;
	if (bgp_update_encode(&spec, &s, msg, BGP_MAX_EXT_MSG, &len) < 0 ||
	    bgp_update_decode(msg, len, &s, out) < 0 || out->action == BGP_ACT_RESET)
		return -1;
	return 0;
}

/* Drop confederation segments (RFC 5065 §5.3) from a 4-octet AS_PATH. */
static size_t
strip_confed(const uint8_t *p, size_t len, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i + 2 <= len) {
		size_t sl = 2 + (size_t)p[i + 1] * 4;
		if (i + sl > len)
			break;
		if (p[i] == BGP_ASPATH_SEQUENCE || p[i] == BGP_ASPATH_SET) {
			memcpy(out + o, p + i, sl);
			o += sl;
		}
		i += sl;
	}
	return o;
}

static int
intern(struct lg_model *m, const struct bgp_update *u, uint8_t af, uint32_t *id)
{
	static uint8_t canon[BGP_CANON_MAX], msg[BGP_MAX_EXT_MSG], path[BGP_MAX_EXT_MSG],
	    comm[BGP_MAX_EXT_MSG];
	struct bgp_update u2;
	struct bgp_attrs a;
	size_t clen, n;
	uint64_t h;
	uint32_t s;

	if (bgp_attrs_canon(u, canon, sizeof(canon), &clen) < 0)
		return -1;
	h = bgp_attrs_hash(canon, clen) ^ lg_mix64(af + 1);
	if (R.n_keys * 2 >= R.mask && keys_grow() < 0)
		return -1;
	s = (uint32_t)h & R.mask;
	while (R.slot[s].len) {
		const struct rkey *k = &R.slot[s];
		if (k->h == h && k->af == af && k->len == clen &&
		    !memcmp(R.keys + k->off, canon, clen)) {
			*id = k->aset;
			return 0;
		}
		s = (s + 1) & R.mask;
	}
	if (canon_attrs(m, canon, clen, af, msg, &u2) < 0)
		return -1;
	a = u2.attrs;
	if (a.mask & (1ull << BGP_ATTR_AS_PATH)) {
		n = strip_confed(a.aspath.p, a.aspath.len, path);
		a.aspath.p = path;
		a.aspath.len = (uint16_t)n;
	}
	if (a.mask & (1ull << BGP_ATTR_COMMUNITIES)) {
		n = 0;
		for (size_t i = 0; i + 4 <= a.communities.len; i += 4) {
			uint32_t v;
			memcpy(&v, a.communities.p + i, 4);
			v = ntohl(v);
			if (v == BGP_COMM_NO_EXPORT || v == BGP_COMM_NO_ADVERTISE ||
			    v == BGP_COMM_NO_EXPORT_SUBCONFED)
				continue;
			memcpy(comm + n, a.communities.p + i, 4);
			n += 4;
		}
		a.communities.p = comm;
		a.communities.len = (uint16_t)n;
		if (!n)
			a.mask &= ~(1ull << BGP_ATTR_COMMUNITIES);
	}
	if (lg_aset_add(m, &a, af, id) < 0)
		return -1;
	if (grow((void **)&R.keys, &R.cap_kb, R.n_kb + clen, 1) < 0)
		return -1;
	memcpy(R.keys + R.n_kb, canon, clen);
	R.slot[s] = (struct rkey){h, (uint32_t)R.n_kb, (uint32_t)clen, *id, af};
	R.n_kb += clen;
	R.n_keys++;
	return 0;
}

static struct rev *
ev_new(uint8_t af)
{
	struct rev *e;

	if (grow((void **)&R.ev, &R.cap_ev, R.n_ev + 1, sizeof(*R.ev)) < 0)
		return NULL;
	e = &R.ev[R.n_ev++];
	memset(e, 0, sizeof(*e));
	e->af = af;
	e->aset = UINT32_MAX;
	return e;
}

/* Remember e's current attribute set as one it had (a spoke may hold a
 * route with it until the later announcement arrives). */
static int
alt_add(struct lg_model *m, struct lg_pent *e)
{
	for (uint32_t a = e->alt; a; a = m->alts[a - 1].next)
		if (m->alts[a - 1].aset == e->aset)
			return 0;
	if (m->n_alts == m->cap_alts) {
		uint32_t nc = m->cap_alts ? m->cap_alts * 2 : 1024;
		struct lg_alt *n = realloc(m->alts, nc * sizeof(*n));
		if (!n)
			return -1;
		m->alts = n;
		m->cap_alts = nc;
	}
	m->alts[m->n_alts] = (struct lg_alt){e->aset, e->alt};
	e->alt = ++m->n_alts;
	return 0;
}

/* Append the prefixes of a run to the pool; announce = true marks them
 * present with aset, else absent. */
static int
add_run(struct lg_model *m, const struct bgp_nlri *n, bool announce, uint32_t aset, uint32_t *off,
        uint32_t *cnt)
{
	struct bgp_prefix p;
	size_t pos = 0;

	*off = (uint32_t)R.n_pool;
	*cnt = 0;
	if (grow((void **)&R.pool, &R.cap_pool, R.n_pool + n->count, sizeof(*R.pool)) < 0)
		return -1;
	while (bgp_nlri_next(n, &pos, &p) == 1) {
		uint32_t idx;
		bool fresh;
		p.path_id = 0;
		/* A withdrawal of what was never announced still goes into the
		 * table (sent, never expected present). */
		if (lg_table_insert(&m->tab, &p, &idx, &fresh) < 0)
			return -1;
		if (fresh)
			m->tab.e[idx].aset = UINT32_MAX;
		m->tab.e[idx].final = announce;
		if (announce && m->tab.e[idx].aset != aset) {
			if (m->tab.e[idx].aset != UINT32_MAX && alt_add(m, &m->tab.e[idx]) < 0)
				return -1;
			m->tab.e[idx].aset = aset;
		}
		R.pool[R.n_pool++] = idx;
		(*cnt)++;
	}
	return 0;
}

static int
replay_update(struct lg_model *m, const struct mrt_bgp4mp *mp)
{
	struct bgp_sess s;
	struct bgp_update u;
	bool wd_all;
	uint32_t aset4 = UINT32_MAX, aset6 = UINT32_MAX;
	struct rev *e;

	bgp_sess_init(&s);
	s.as4 = mp->as4;
	s.ext_msg = true;
	s.ibgp = mp->peer_as == mp->local_as;
	s.af[BGP_AF_IPV6] = 1;
	s.addpath_rx[BGP_AF_IPV4] = s.addpath_rx[BGP_AF_IPV6] = mp->addpath;
	if (bgp_update_decode(mp->msg, mp->msg_len, &s, &u) < 0) {
		m->replay_skipped++;
		return 0;
	}
	m->replay_msgs++;
	wd_all = u.action == BGP_ACT_WITHDRAW;
	if (wd_all)
		m->replay_tawd++;
	if (!wd_all && u.nlri.count && intern(m, &u, BGP_AF_IPV4, &aset4) < 0)
		return -1;
	if (!wd_all && u.mp_reach.count && u.mp_reach.af == BGP_AF_IPV6 &&
	    intern(m, &u, BGP_AF_IPV6, &aset6) < 0)
		return -1;
	/* IPv4: one event as in the file, withdrawals first (RFC 4271 §4.3:
	 * a prefix withdrawn and announced in one UPDATE ends up announced).
	 * Treat-as-withdraw turns the NLRI into withdrawals too. */
	if (u.withdrawn.count || u.nlri.count) {
		if (!(e = ev_new(BGP_AF_IPV4)))
			return -1;
		if (u.withdrawn.count &&
		    add_run(m, &u.withdrawn, false, 0, &e->wd_off, &e->n_wd) < 0)
			return -1;
		if (u.nlri.count && wd_all) {
			if ((u.withdrawn.count && !(e = ev_new(BGP_AF_IPV4))) ||
			    add_run(m, &u.nlri, false, 0, &e->wd_off, &e->n_wd) < 0)
				return -1;
		} else if (u.nlri.count) {
			if (add_run(m, &u.nlri, true, aset4, &e->ann_off, &e->n_ann) < 0)
				return -1;
			e->aset = aset4;
		}
	}
	if (u.mp_reach.count && u.mp_reach.af == BGP_AF_IPV6) {
		if (!(e = ev_new(BGP_AF_IPV6)))
			return -1;
		if (wd_all) {
			if (add_run(m, &u.mp_reach, false, 0, &e->wd_off, &e->n_wd) < 0)
				return -1;
		} else {
			if (add_run(m, &u.mp_reach, true, aset6, &e->ann_off, &e->n_ann) < 0)
				return -1;
			e->aset = aset6;
		}
	}
	if (u.mp_unreach.count && u.mp_unreach.af == BGP_AF_IPV6) {
		if (!(e = ev_new(BGP_AF_IPV6)) ||
		    add_run(m, &u.mp_unreach, false, 0, &e->wd_off, &e->n_wd) < 0)
			return -1;
	}
	return 0;
}

int
lg_model_replay(struct lg_model *m)
{
	const struct lg_opts *o = m->o;
	char err[256];
	struct mrt_reader *rd = mrt_reader_open(o->replay, err, sizeof(err));
	struct mrt_record rec;
	int r;

	if (!rd) {
		fprintf(stderr, "routehub-loadgen: --replay %s: %s\n", o->replay, err);
		return -1;
	}
	while ((r = mrt_reader_next(rd, &rec)) == 1) {
		struct mrt_bgp4mp mp;
		struct mrt_err me;
		uint8_t type;
		if (rec.hdr.type != MRT_TYPE_BGP4MP && rec.hdr.type != MRT_TYPE_BGP4MP_ET)
			continue;
		if (mrt_bgp4mp_parse(rec.hdr.subtype, rec.body, rec.body_len, &mp, &me) < 0 ||
		    mp.state || mp.local || mp.msg_len < BGP_HDR_LEN)
			continue;
		type = mp.msg[18];
		if (type != BGP_MSG_UPDATE)
			continue;
		if (replay_update(m, &mp) < 0) {
			fprintf(stderr,
			        "routehub-loadgen: --replay %s: record %llu: cannot rewrite "
			        "its attributes\n",
			        o->replay, (unsigned long long)rec.index);
			mrt_reader_free(rd);
			return -1;
		}
		if (o->replay_max && m->replay_msgs >= o->replay_max)
			break;
	}
	if (r < 0) {
		fprintf(stderr, "routehub-loadgen: --replay %s: %s\n", o->replay,
		        mrt_reader_error(rd));
		mrt_reader_free(rd);
		return -1;
	}
	mrt_reader_free(rd);
	if (!m->replay_msgs) {
		fprintf(stderr, "routehub-loadgen: --replay %s: no BGP4MP UPDATE messages\n",
		        o->replay);
		return -1;
	}
	if (lg_groups_alloc(m, o->n_feeders ? 1 : 0, o->n_feeders) < 0)
		return -1;
	m->gpfx = malloc(((size_t)m->tab.n + 1) * sizeof(*m->gpfx));
	if (!m->gpfx)
		return -1;
	for (uint32_t i = 0; i < m->tab.n; i++) {
		struct lg_pent *e = &m->tab.e[i];
		m->gpfx[i] = i;
		e->group = 0;
		if (e->af == BGP_AF_IPV6)
			m->has_v6 = true;
		if (e->aset == UINT32_MAX || e->aset >= m->n_asets)
			e->final = 0, e->aset = 0;
		e->contrib = lg_pent_contrib(e, 0) ^ (m->n_asets ? m->asets[e->aset].hbase : 0);
	}
	if (m->n_groups) {
		m->groups[0].pfx_off = 0;
		m->groups[0].n_pfx = m->tab.n;
		for (uint32_t i = 0; i < m->tab.n; i++)
			m->groups[0].n_final += m->tab.e[i].final;
	}
	if (!o->quiet)
		printf("routehub-loadgen: replay %s: %llu UPDATEs (%llu treated as withdraw, %llu "
		       "skipped), %u prefixes, %u held at the end, %u attribute sets\n",
		       o->replay, (unsigned long long)m->replay_msgs,
		       (unsigned long long)m->replay_tawd, (unsigned long long)m->replay_skipped,
		       m->tab.n, m->n_groups ? m->groups[0].n_final : 0, m->n_asets);
	return 0;
}

/* The feeder's announce stream: the timeline, event by event. */
int
lg_replay_encode(struct lg_model *m, struct lg_feeder *f)
{
	static uint8_t attrs[BGP_MAX_EXT_MSG];
	struct bgp_prefix *wd = NULL, *ann = NULL;
	size_t cap = 0;
	struct lg_sbuf b = {0};
	struct bgp_sess s;
	int rc = -1;

	lg_enc_sess(m, &s);
	for (size_t i = 0; i < R.n_ev; i++) {
		const struct rev *e = &R.ev[i];
		size_t need = e->n_wd > e->n_ann ? e->n_wd : e->n_ann, alen = 0, len;
		struct bgp_update_spec spec = {.mp_unreach_af = -1};
		uint8_t *d;
		if (need > cap) {
			cap = need * 2;
			free(wd);
			free(ann);
			wd = malloc(cap * sizeof(*wd));
			ann = malloc(cap * sizeof(*ann));
			if (!wd || !ann)
				goto out;
		}
		for (uint32_t k = 0; k < e->n_wd; k++)
			lg_pent_prefix(&m->tab.e[R.pool[e->wd_off + k]], &wd[k]);
		for (uint32_t k = 0; k < e->n_ann; k++)
			lg_pent_prefix(&m->tab.e[R.pool[e->ann_off + k]], &ann[k]);
		if (e->n_ann)
			alen = lg_aset_render(&m->asets[e->aset], f, false, attrs);
		/* One UPDATE as in the file when it fits (the prepended ASN or
		 * LOCAL_PREF may push a full message over), else as many as
		 * needed. */
		if (e->af == BGP_AF_IPV4) {
			spec.withdrawn = wd, spec.n_withdrawn = e->n_wd;
			spec.nlri = ann, spec.n_nlri = e->n_ann;
		} else if (e->n_wd) {
			spec.mp_unreach = wd, spec.n_mp_unreach = e->n_wd;
			spec.mp_unreach_af = BGP_AF_IPV6;
		} else {
			spec.mp_reach = ann, spec.n_mp_reach = e->n_ann;
		}
		if (e->n_ann) {
			spec.attrs = attrs;
			spec.attrs_len = alen;
		}
		if (b.len + BGP_MAX_EXT_MSG > b.cap) {
			size_t nc = b.cap ? b.cap * 2 : (1u << 20);
			uint8_t *np = realloc(b.p, nc);
			if (!np)
				goto out;
			b.p = np;
			b.cap = nc;
		}
		d = b.p + b.len;
		if (bgp_update_encode(&spec, &s, d, bgp_sess_max_msg(&s), &len) == 0) {
			b.len += len;
			b.n++;
			b.npfx += e->n_wd + e->n_ann;
			continue;
		}
		if (e->n_wd && lg_emit_withdraw(m, &b, e->af, wd, e->n_wd) < 0)
			goto out;
		if (e->n_ann && lg_emit_announce(m, &b, attrs, alen, e->af, ann, e->n_ann) < 0)
			goto out;
	}
	f->ann.buf = b.p;
	f->ann.len = b.len;
	f->ann.n_msgs = b.n;
	f->ann.n_pfx = b.npfx;
	b.p = NULL;
	rc = 0;
out:
	free(b.p);
	free(wd);
	free(ann);
	return rc;
}

void
lg_replay_fini(void)
{
	free(R.ev);
	free(R.pool);
	free(R.slot);
	free(R.keys);
	memset(&R, 0, sizeof(R));
}
