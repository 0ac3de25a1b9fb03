/*
 * mirror.c — the self-test sink: the loadgen's own listener stands where
 * the route server would, so that a run measures the loadgen alone.
 *
 * Runs on its own worker thread (the last one), which owns the listening
 * socket, every accepted session and the relay log. Feeders' UPDATEs are
 * appended, whole and unchanged, to one log; every spoke's session writes
 * the log from its own cursor. That is a transparent route server (RFC 7947:
 * no AS prepend, next hop unchanged) without a decision process: with
 * feeder groups the last announcement wins, which the spokes accept (any
 * member of the group). When a feeder's session drops or it withdraws its
 * routes, the mirror sends what a route server's RIB would end up with: the
 * announcements of the other members of its group still holding routes, or
 * the feeder's withdrawals if there are none.
 *
 * The log only grows (a spoke that connects replays it from the start); it
 * holds what the feeders sent, pre-encoded streams plus churn, so its size is
 * bounded by the scenario. A ROUTE-REFRESH is answered with the announce
 * streams of the feeders holding routes, between two messages of the log.
 *
 * With iBGP feeders (--ibgp-feeders) the mirror is in their AS and is their
 * route reflector (RFC 4456): an UPDATE with announcements is not passed on
 * whole but rewritten once, as it enters the log (xform) — towards iBGP
 * spokes (clients too) with ORIGINATOR_ID the feeder's BGP Identifier and
 * the mirror's CLUSTER_ID prepended to CLUSTER_LIST (§8), towards eBGP spokes
 * without LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST (RFC 4271 §5.1.5) — and
 * split if it no longer fits. AS path, next hop and LOCAL_PREF are left as
 * they are (RFC 4456 §10). Withdrawals and End-of-RIB pass unchanged. The
 * feeders' announce streams are rewritten before the clock starts (mann),
 * for what the mirror sends from them (a group partner taking over, a
 * ROUTE-REFRESH). This costs the mirror a decode and an encode per UPDATE,
 * as it would cost a route reflector.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"

#define MIRROR_ASN  64512u /* the mirror's own ASN (never in a path it passes) */
#define WRITE_CHUNK (1u << 20)

uint32_t
lg_mirror_asn(const struct lg_opts *o)
{
	return o->ibgp_feeders ? o->feeder_asn : MIRROR_ASN;
}

/* What the mirror does to the feeders' UPDATEs (set once, before the
 * threads start; the mirror thread alone uses the scratch). */
enum { MX_NONE = 0, MX_REFLECT, MX_EXTERNAL };
static int mx_mode;
static uint32_t mx_cluster; /* CLUSTER_ID, host order */
static struct lg_sbuf mx_out;
static struct bgp_prefix *mx_pfx; /* BGP_MAX_EXT_MSG prefixes */

/* The UPDATE msg of feeder f as the mirror passes it on (see the top of
 * the file), appended to b. */
static int
xform(const struct lg_model *m, const struct lg_feeder *f, const uint8_t *msg, size_t len,
      struct lg_sbuf *b)
{
	static uint8_t attrs[BGP_CANON_MAX], cl[BGP_MAX_EXT_MSG + 4];
	const struct bgp_nlri *runs[4];
	struct bgp_sess s;
	struct bgp_update u;
	struct bgp_attrs *a = &u.attrs;
	size_t alen;

	lg_enc_sess(m, &s);
	s.ibgp = true; /* from an internal peer: LOCAL_PREF is kept */
	if (bgp_update_decode(msg, len, &s, &u) < 0 || u.action != BGP_ACT_OK ||
	    (!u.nlri.count && !u.mp_reach.count)) {
		/* Withdrawals and End-of-RIB as they are. (Feeders send nothing
		 * malformed; if they did, the spokes would see it unchanged.) */
		uint8_t *d = lg_sbuf_reserve(b, len);
		if (!d)
			return -1;
		memcpy(d, msg, len);
		b->len += len;
		b->n++;
		return 0;
	}
	if (mx_mode == MX_REFLECT) {
		uint32_t id = htonl(mx_cluster);
		size_t n = a->mask & (1ull << BGP_ATTR_CLUSTER_LIST) ? a->cluster_list.len : 0;
		if (!(a->mask & (1ull << BGP_ATTR_ORIGINATOR_ID))) {
			a->mask |= 1ull << BGP_ATTR_ORIGINATOR_ID;
			a->originator_id = htonl(f->addr);
		}
		memcpy(cl, &id, 4);
		if (n)
			memcpy(cl + 4, a->cluster_list.p, n);
		a->mask |= 1ull << BGP_ATTR_CLUSTER_LIST;
		a->cluster_list.p = cl;
		a->cluster_list.len = (uint16_t)(n + 4);
	} else {
		a->mask &= ~((1ull << BGP_ATTR_LOCAL_PREF) | (1ull << BGP_ATTR_ORIGINATOR_ID) |
		             (1ull << BGP_ATTR_CLUSTER_LIST));
	}
	if (bgp_attrs_canon(&u, attrs, sizeof(attrs), &alen) < 0)
		return -1;
	/* Withdrawals first, as the UPDATE's own are processed first. */
	runs[0] = &u.withdrawn, runs[1] = &u.mp_unreach, runs[2] = &u.nlri, runs[3] = &u.mp_reach;
	for (int r = 0; r < 4; r++) {
		size_t pos = 0, k = 0;
		if (!runs[r]->count)
			continue;
		while (bgp_nlri_next(runs[r], &pos, &mx_pfx[k]) == 1)
			k++;
		if (r < 2 ? lg_emit_withdraw(m, b, runs[r]->af, mx_pfx, k)
		          : lg_emit_announce(m, b, attrs, alen, runs[r]->af, mx_pfx, k))
			return -1;
	}
	return 0;
}

/* The stream the mirror sends for a feeder's announcements. */
static const struct lg_stream *
ann_stream(const struct lg_feeder *f)
{
	return mx_mode ? &f->mann : &f->ann;
}

static int
mirror_xform_init(struct lg_run *r)
{
	const struct lg_opts *o = r->o;
	struct lg_model *m = r->m;

	if (!o->ibgp_feeders)
		return 0;
	mx_mode = o->n_spokes && o->spoke_asn == lg_mirror_asn(o) ? MX_REFLECT : MX_EXTERNAL;
	mx_cluster = o->have_cluster_id ? o->cluster_id : r->target_addr;
	mx_pfx = malloc(BGP_MAX_EXT_MSG * sizeof(*mx_pfx));
	if (!mx_pfx)
		return -1;
	for (uint32_t i = 0; i < m->n_feeders; i++) {
		struct lg_feeder *f = &m->feeders[i];
		struct lg_sbuf b = {0};
		for (size_t off = 0; off + BGP_HDR_LEN <= f->ann.len;) {
			size_t len = (size_t)f->ann.buf[off + 16] << 8 | f->ann.buf[off + 17];
			if (len < BGP_HDR_LEN || off + len > f->ann.len ||
			    xform(m, f, f->ann.buf + off, len, &b) < 0) {
				free(b.p);
				return -1;
			}
			off += len;
		}
		f->mann.buf = b.p, f->mann.len = b.len, f->mann.n_msgs = b.n;
		f->mann.n_pfx = f->ann.n_pfx;
	}
	return 0;
}

int
lg_mirror_listen(struct lg_run *r, struct lg_worker *w)
{
	const struct lg_opts *o = r->o;
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(o->listen_addr),
	                         .sin_port = htons(o->listen_port)};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->lfd};
	socklen_t sl = sizeof(sa);
	uint32_t a;
	int one = 1;

	r->mfeeders = calloc(r->m->n_feeders + 1, sizeof(*r->mfeeders));
	r->mspokes = calloc(r->m->n_spokes + 1, sizeof(*r->mspokes));
	if (!r->mfeeders || !r->mspokes)
		return -1;
	for (uint32_t i = 0; i < r->m->n_feeders; i++) {
		struct lg_sess *s = &r->mfeeders[i];
		s->fd = -1;
		s->role = LG_ROLE_MFEEDER;
		s->idx = i;
		s->addr = r->feeders[i].addr;
		s->w = w;
	}
	for (uint32_t i = 0; i < r->m->n_spokes; i++) {
		struct lg_sess *s = &r->mspokes[i];
		s->fd = -1;
		s->role = LG_ROLE_MSPOKE;
		s->idx = i;
		s->addr = r->spokes[i].addr;
		s->w = w;
		s->corrupt_due = o->expect_corrupt >= LG_CORRUPT_ROUTE && i == r->m->n_spokes - 1;
	}
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->lfd < 0)
		goto fail;
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(w->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(w->lfd, 4096) < 0 ||
	    getsockname(w->lfd, (struct sockaddr *)&sa, &sl) < 0)
		goto fail;
	r->target_addr = ntohl(sa.sin_addr.s_addr);
	r->target_port = ntohs(sa.sin_port);
	if (mirror_xform_init(r) < 0) {
		fprintf(stderr, "routehub-loadgen: self-test: rewriting the feeders' streams as a "
		                "route reflector failed\n");
		return -1;
	}
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &ev) < 0)
		goto fail;
	/* Sessions are found by source address: feeders and spokes each have
	 * increasing addresses, so a binary search finds them. */
	a = 0;
	for (uint32_t i = 0; i < r->m->n_feeders; i++) {
		if (r->feeders[i].addr <= a && i)
			goto order;
		a = r->feeders[i].addr;
	}
	a = 0;
	for (uint32_t i = 0; i < r->m->n_spokes; i++) {
		if (r->spokes[i].addr <= a && i)
			goto order;
		a = r->spokes[i].addr;
	}
	return 0;
order:
	fprintf(stderr, "routehub-loadgen: source addresses are not increasing\n");
	return -1;
fail:
	fprintf(stderr, "routehub-loadgen: self-test listener: %s\n", strerror(errno));
	return -1;
}

static struct lg_sess *
find(struct lg_sess *v, uint32_t n, uint32_t addr)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v[mid].addr == addr)
			return &v[mid];
		if (v[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
lg_mirror_accept(struct lg_worker *w)
{
	struct lg_run *r = lg_run;

	for (;;) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		struct epoll_event ev;
		struct lg_sess *s, *client;
		uint32_t addr;
		int one = 1, fd;

		fd = accept4(w->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				lg_fatal("self-test accept: %s", strerror(errno));
			return;
		}
		addr = ntohl(sa.sin_addr.s_addr);
		s = find(r->mfeeders, r->m->n_feeders, addr);
		client = s ? &r->feeders[s->idx] : NULL;
		if (!s) {
			s = find(r->mspokes, r->m->n_spokes, addr);
			client = s ? &r->spokes[s->idx] : NULL;
		}
		if (!s) {
			close(fd); /* not one of ours */
			continue;
		}
		if (s->fd >= 0) {
			/* A reconnect before the old connection was seen to close. */
			s->want_down = true;
			lg_sess_down(s, "replaced by a new connection");
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->fd = fd;
		s->state = LG_S_OPENSENT;
		s->want_down = false;
		s->asn = lg_mirror_asn(r->o);
		s->out_armed = false;
		s->carry_len = 0;
		s->log_cur = 0;
		bgp_sess_init(&s->bs);
		s->bs.as4 = true;
		(void)client;
		ev.events = EPOLLIN;
		ev.data.ptr = s;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			lg_fatal("epoll_ctl: %s", strerror(errno));
			close(fd);
			s->fd = -1;
			return;
		}
		/* Our OPEN goes first, as a listening BGP speaker's would. */
		{
			struct bgp_open o;
			uint8_t *buf = malloc(BGP_MAX_MSG);
			size_t len;
			memset(&o, 0, sizeof(o));
			o.version = BGP_VERSION;
			o.asn = s->asn;
			o.my_as = s->asn > 0xffff ? BGP_AS_TRANS : (uint16_t)s->asn;
			o.hold_time = 0;
			o.bgp_id = r->target_addr;
			o.caps = BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 |
			         (r->o->extmsg ? BGP_CAPF_EXTMSG : 0);
			o.mp[BGP_AF_IPV4] = 1;
			o.mp[BGP_AF_IPV6] = r->m->has_v6;
			if (!buf || bgp_open_encode(&o, buf, BGP_MAX_MSG, &len) < 0) {
				free(buf);
				lg_fatal("cannot encode OPEN");
				return;
			}
			atomic_fetch_add_explicit(&w->c[s->role].tx_msgs, 1, memory_order_relaxed);
			lg_sess_send(s, buf, len, true);
		}
	}
}

static int
log_append(struct lg_worker *w, const uint8_t *p, size_t len)
{
	if (w->log_len + len > w->log_cap) {
		size_t nc = w->log_cap ? w->log_cap : (8u << 20);
		uint8_t *n;
		while (nc < w->log_len + len)
			nc *= 2;
		n = realloc(w->log, nc);
		if (!n) {
			lg_fatal("self-test mirror: out of memory (log of %zu bytes)", w->log_len);
			return -1;
		}
		w->log = n;
		w->log_cap = nc;
	}
	memcpy(w->log + w->log_len, p, len);
	w->log_len += len;
	return 0;
}

/* Feeder f no longer holds its routes: what a route server's RIB ends up
 * sending to the spokes. If other members of f's group hold the same
 * prefixes, their routes replace f's (their announce streams again);
 * otherwise f's withdrawals. Returns true if partners took over. */
static bool
partners_take_over(struct lg_worker *w, const struct lg_feeder *f)
{
	const struct lg_model *m = w->m;
	const struct lg_group *g = &m->groups[f->group];
	bool any = false;

	for (uint32_t i = g->first; i < g->first + g->count; i++) {
		const struct lg_feeder *o = &m->feeders[i];
		if (i == f->idx || !atomic_load_explicit(&o->announced, memory_order_relaxed) ||
		    lg_run->mfeeders[i].state != LG_S_ESTABLISHED)
			continue;
		log_append(w, ann_stream(o)->buf, ann_stream(o)->len);
		any = true;
	}
	return any;
}

/* An UPDATE from a feeder. The messages of its pre-encoded withdraw stream
 * are recognised by their bytes (s->wd_pos follows the stream): when group
 * partners still hold the prefixes, the spokes get the partners' routes
 * instead of the withdrawals, as from a route server. */
void
lg_mirror_update(struct lg_sess *s, const uint8_t *msg, size_t len)
{
	const struct lg_feeder *f = &s->w->m->feeders[s->idx];
	const struct lg_stream *wd = &f->wd;
	bool first = false;

	if (s->wd_pos + len > wd->len || memcmp(wd->buf + s->wd_pos, msg, len)) {
		s->wd_pos = 0;
		s->wd_taken = false;
	}
	if (s->wd_pos == 0 && len <= wd->len && !memcmp(wd->buf, msg, len))
		first = true;
	if (first || s->wd_pos) {
		s->wd_pos += len;
		if (first)
			s->wd_taken = partners_take_over(s->w, f);
		if (s->wd_pos == wd->len)
			s->wd_pos = 0;
		if (s->wd_taken)
			return;
	}
	if (mx_mode) {
		mx_out.len = mx_out.n = 0;
		if (xform(s->w->m, f, msg, len, &mx_out) < 0) {
			lg_fatal("self-test mirror: cannot pass on an UPDATE of feeder %u", s->idx);
			return;
		}
		log_append(s->w, mx_out.p, mx_out.len);
		return;
	}
	log_append(s->w, msg, len);
}

/* A feeder's session dropped. */
void
lg_mirror_down(struct lg_sess *s)
{
	const struct lg_model *m = s->w->m;
	const struct lg_feeder *f = &m->feeders[s->idx];

	if (m->o->verbose)
		fprintf(stderr, "routehub-loadgen: mirror: feeder %u down (%s)\n", s->idx,
		        s->last_err);
	s->wd_pos = 0;
	s->wd_taken = false;
	if (!partners_take_over(s->w, f))
		log_append(s->w, f->wd.buf, f->wd.len);
}

/* --expect-corrupt route: the first UPDATE with announcements in
 * log[from, to), if its AS_PATH can be altered; *asn set to the offset of
 * the last octet of its first AS. With local-pref, originator-id or
 * cluster-list, that attribute instead, and the last octet of its (first)
 * value. Returns the message's offset, or to. */
static size_t
corrupt_find(const uint8_t *log, size_t from, size_t to, enum lg_corrupt what, size_t *asn)
{
	uint8_t want = what == LG_CORRUPT_LOCAL_PREF   ? BGP_ATTR_LOCAL_PREF
	               : what == LG_CORRUPT_ORIGINATOR ? BGP_ATTR_ORIGINATOR_ID
	               : what == LG_CORRUPT_CLUSTER    ? BGP_ATTR_CLUSTER_LIST
	                                               : BGP_ATTR_AS_PATH;

	for (size_t o = from; o + BGP_HDR_LEN <= to;) {
		const uint8_t *m = log + o;
		size_t len = (size_t)m[16] << 8 | m[17], wl, al, a;
		if (len < BGP_HDR_LEN || o + len > to)
			break;
		if (m[18] == BGP_MSG_UPDATE && len >= 23 &&
		    (wl = (size_t)m[19] << 8 | m[20]) + 23 <= len &&
		    (al = (size_t)m[21 + wl] << 8 | m[22 + wl]) + 23 + wl <= len) {
			bool ann = len > 23 + wl + al; /* NLRI */
			size_t path = 0;
			for (a = 23 + wl; a + 3 <= 23 + wl + al;) {
				uint8_t fl = m[a], ty = m[a + 1];
				size_t h = fl & 0x10 ? 4 : 3;
				size_t vl =
				    fl & 0x10 ? ((size_t)m[a + 2] << 8 | m[a + 3]) : m[a + 2];
				if (a + h + vl > 23 + wl + al)
					break;
				if (ty == BGP_ATTR_MP_REACH_NLRI)
					ann = true;
				if (want == BGP_ATTR_AS_PATH && ty == want && vl >= 6 &&
				    m[a + h + 1] >= 1)
					path = a + h + 5; /* segment type, count, then the AS */
				else if (want != BGP_ATTR_AS_PATH && ty == want && vl >= 4)
					path = a + h + 3;
				a += h + vl;
			}
			if (ann && path) {
				*asn = o + path;
				return o;
			}
		}
		o += len;
	}
	return to;
}

int
lg_mirror_write(struct lg_sess *s)
{
	struct lg_worker *w = s->w;
	size_t end = w->log_len, asn = 0;

	if (s->qn)
		return 0; /* OPEN and KEEPALIVE first (sess_flush calls back) */
	if (s->corrupt_due)
		end = corrupt_find(w->log, s->log_cur, w->log_len, w->m->o->expect_corrupt, &asn);
	if (s->corrupt_due && s->log_cur == end && end < w->log_len) {
		/* This spoke alone gets the message with its first AS changed:
		 * every route in it is wrong, while the other spokes get it
		 * intact. The copy goes through the queue, then the log resumes. */
		size_t len = (size_t)w->log[end + 16] << 8 | w->log[end + 17];
		uint8_t *cp = malloc(len);
		if (!cp) {
			lg_fatal("out of memory");
			return -1;
		}
		memcpy(cp, w->log + end, len);
		cp[asn - end] ^= 0x01;
		s->corrupt_due = false;
		s->log_cur += len;
		fprintf(stderr,
		        "routehub-loadgen: mirror: --expect-corrupt: altered the %s of one "
		        "UPDATE to spoke %u\n",
		        w->m->o->expect_corrupt == LG_CORRUPT_LOCAL_PREF   ? "LOCAL_PREF"
		        : w->m->o->expect_corrupt == LG_CORRUPT_ORIGINATOR ? "ORIGINATOR_ID"
		        : w->m->o->expect_corrupt == LG_CORRUPT_CLUSTER    ? "CLUSTER_LIST"
		                                                           : "AS path",
		        s->idx);
		return lg_sess_send(s, cp, len, true);
	}
	while (s->log_cur < end) {
		size_t n = end - s->log_cur;
		ssize_t k = write(s->fd, w->log + s->log_cur, n < WRITE_CHUNK ? n : WRITE_CHUNK);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
				                         .data.ptr = s};
				if (!s->out_armed &&
				    epoll_ctl(w->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
					s->out_armed = true;
				return 0;
			}
			lg_sess_down(s, strerror(errno));
			return -1;
		}
		s->log_cur += (size_t)k;
		atomic_fetch_add_explicit(&w->c[LG_ROLE_MSPOKE].tx_bytes, (uint64_t)k,
		                          memory_order_relaxed);
	}
	if (s->corrupt_due && s->log_cur < w->log_len)
		return lg_mirror_write(s); /* at the message to alter */
	if (s->out_armed) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
		if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
			s->out_armed = false;
	}
	if (s->rr_pending) {
		/* RFC 2918 §4: re-advertise the Adj-RIB-Out, i.e. what the feeders
		 * hold now, not the log's history. Caught up with the log, the
		 * spoke is at a message boundary: the queue (whole streams) goes
		 * next, and the log resumes once it has drained. */
		const struct lg_model *m = w->m;
		s->rr_pending = false;
		for (uint32_t i = 0; i < m->n_feeders; i++) {
			const struct lg_feeder *f = &m->feeders[i];
			if (!atomic_load_explicit(&f->announced, memory_order_relaxed) ||
			    lg_run->mfeeders[i].state != LG_S_ESTABLISHED || s->fd < 0)
				continue;
			atomic_fetch_add_explicit(&w->c[LG_ROLE_MSPOKE].tx_msgs,
			                          ann_stream(f)->n_msgs, memory_order_relaxed);
			lg_sess_send(s, ann_stream(f)->buf, ann_stream(f)->len, false);
		}
	}
	return 0;
}

/* After a round of reads: push what the log gained to every spoke that is
 * not already waiting for its socket to drain. */
void
lg_mirror_flush(struct lg_worker *w)
{
	struct lg_run *r = lg_run;

	if (w->log_len == w->log_flushed)
		return;
	w->log_flushed = w->log_len;
	for (uint32_t i = 0; i < r->m->n_spokes; i++) {
		struct lg_sess *s = &r->mspokes[i];
		if (s->fd >= 0 && s->state == LG_S_ESTABLISHED && !s->out_armed)
			lg_mirror_write(s);
	}
}
