/*
 * sess.c — the loadgen's I/O threads: nonblocking sockets on epoll, the BGP
 * session FSM (RFC 4271 §8, reduced to what a load generator needs), send
 * queues of pre-encoded buffers, framing of what arrives, and the timed
 * work (connect slots, keepalives, churn).
 *
 * Each worker thread owns a fixed set of sessions and is the only one to
 * touch them. The main thread talks to a worker only through its command
 * mailbox (mutex + eventfd: a few commands per phase, never on the data
 * path); workers wake the main thread through one eventfd.
 *
 * Invariants: a session's queue holds whole messages, so anything appended
 * (a KEEPALIVE, an End-of-RIB) lands between messages; a pre-encoded stream
 * is never copied, only pointed at; bytes read are framed in a per-thread
 * buffer and only an incomplete tail is copied to the session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

struct lg_run *lg_run;

#define RBUF_SIZE     (256u << 10)
#define MAX_IOV       64
#define CHURN_QMAX    (4u << 20)     /* churn skips a feeder whose queue is this long */
#define CONNECT_LIMIT 10000000000ull /* ns: a connection not open by then is retried */

static const uint8_t keepalive_msg[BGP_KEEPALIVE_LEN] = {0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0xff,
                                                         0,
                                                         BGP_KEEPALIVE_LEN,
                                                         BGP_MSG_KEEPALIVE};

uint64_t
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *
lg_role_name(enum lg_role r)
{
	static const char *const n[LG_ROLE_MAX] = {"feeder", "spoke", "mirror-feeder",
	                                           "mirror-spoke"};
	return r < LG_ROLE_MAX ? n[r] : "?";
}

void
lg_addr_str(uint32_t addr, char *buf, size_t cap)
{
	struct in_addr a = {htonl(addr)};

	inet_ntop(AF_INET, &a, buf, (socklen_t)cap);
}

void
lg_wake_main(void)
{
	uint64_t one = 1;

	if (write(lg_run->mainfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("routehub-loadgen: eventfd");
}

void
lg_fatal(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lg_run->fatal_mu);
	if (atomic_load_explicit(&lg_run->n_fatal, memory_order_relaxed) == 0) {
		va_start(ap, fmt);
		vsnprintf(lg_run->fatal, sizeof(lg_run->fatal), fmt, ap);
		va_end(ap);
	}
	atomic_fetch_add_explicit(&lg_run->n_fatal, 1, memory_order_release);
	pthread_mutex_unlock(&lg_run->fatal_mu);
	lg_wake_main();
}

/* A worker's counters have one writer, the worker: a relaxed load and store,
 * not a locked read-modify-write per message. */
#define WADD(x, v)                                                                                 \
	atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (v),        \
	                      memory_order_relaxed)

static void
count(struct lg_sess *s, bool tx, uint64_t bytes, uint64_t msgs)
{
	struct lg_counters *c = &s->w->c[s->role];

	if (tx) {
		if (bytes)
			WADD(c->tx_bytes, bytes);
		if (msgs)
			WADD(c->tx_msgs, msgs);
	} else {
		if (bytes)
			WADD(c->rx_bytes, bytes);
		if (msgs)
			WADD(c->rx_msgs, msgs);
	}
}

static void
sess_arm(struct lg_sess *s, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = s};

	if (s->fd < 0 || s->out_armed == out)
		return;
	if (epoll_ctl(s->w->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
		s->out_armed = out;
}

static void
slot_release(struct lg_sess *s)
{
	if (!s->has_slot)
		return;
	s->has_slot = false;
	atomic_fetch_sub_explicit(&lg_run->slots, 1, memory_order_relaxed);
}

static void
queue_clear(struct lg_sess *s)
{
	while (s->qn) {
		struct lg_seg *g = &s->q[s->qhead];
		if (g->owned)
			free((void *)g->p);
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qn--;
	}
	s->qhead = 0;
	s->qoff = 0;
	s->qbytes = 0;
}

/* Write as much of the queue as the socket takes. */
static int
sess_flush(struct lg_sess *s)
{
	while (s->qn) {
		struct iovec iov[MAX_IOV];
		int n = 0;
		ssize_t w;
		for (uint32_t i = 0; i < s->qn && n < MAX_IOV; i++) {
			const struct lg_seg *g = &s->q[(s->qhead + i) % s->qcap];
			iov[n].iov_base = (void *)(g->p + (i == 0 ? s->qoff : 0));
			iov[n].iov_len = g->len - (i == 0 ? s->qoff : 0);
			n++;
		}
		w = writev(s->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				sess_arm(s, true);
				return 0;
			}
			lg_sess_down(s, strerror(errno));
			return -1;
		}
		count(s, true, (uint64_t)w, 0);
		s->qbytes -= (uint64_t)w;
		while (w > 0) {
			struct lg_seg *g = &s->q[s->qhead];
			size_t left = g->len - s->qoff;
			if ((size_t)w < left) {
				s->qoff += (uint32_t)w;
				break;
			}
			w -= (ssize_t)left;
			if (g->owned)
				free((void *)g->p);
			s->qhead = (s->qhead + 1) % s->qcap;
			s->qn--;
			s->qoff = 0;
		}
	}
	if (s->role == LG_ROLE_MSPOKE && s->state == LG_S_ESTABLISHED)
		return lg_mirror_write(s);
	sess_arm(s, false);
	if (s->flush_note) {
		s->flush_note = false;
		s->t_flushed = lg_now();
		atomic_fetch_sub_explicit(&lg_run->flush_pending, 1, memory_order_release);
		lg_wake_main();
	}
	return 0;
}

int
lg_sess_send(struct lg_sess *s, const uint8_t *p, size_t len, bool owned)
{
	if (s->fd < 0 || len == 0) {
		if (owned)
			free((void *)p);
		return -1;
	}
	if (s->qn == s->qcap) {
		uint32_t nc = s->qcap ? s->qcap * 2 : 16;
		struct lg_seg *nq = malloc(nc * sizeof(*nq));
		if (!nq) {
			lg_fatal("out of memory");
			return -1;
		}
		for (uint32_t i = 0; i < s->qn; i++)
			nq[i] = s->q[(s->qhead + i) % s->qcap];
		free(s->q);
		s->q = nq;
		s->qcap = nc;
		s->qhead = 0;
	}
	s->q[(s->qhead + s->qn) % s->qcap] = (struct lg_seg){p, (uint32_t)len, owned};
	s->qn++;
	s->qbytes += len;
	if (s->out_armed)
		return 0; /* the socket is full: EPOLLOUT will come */
	return sess_flush(s);
}

static void
send_notification(struct lg_sess *s, uint8_t code, uint8_t sub)
{
	uint8_t *buf = malloc(BGP_NOTIFY_MIN_LEN);
	size_t len;

	if (buf && bgp_notify_encode(code, sub, NULL, 0, buf, BGP_NOTIFY_MIN_LEN, &len) == 0) {
		lg_sess_send(s, buf, len, true);
		count(s, true, 0, 1);
	} else {
		free(buf);
	}
}

static bool
client_role(const struct lg_sess *s)
{
	return s->role == LG_ROLE_FEEDER || s->role == LG_ROLE_SPOKE;
}

/* A session that never opened: retry with backoff until the phase times
 * out (the daemon may still be starting, or its backlog be full). */
static void
retry_later(struct lg_sess *s, const char *why)
{
	uint64_t back = 100000000ull << (s->retries < 4 ? s->retries : 4);
	char a[32];

	s->retries++;
	s->state = LG_S_WAITSLOT;
	s->retry_at = lg_now() + back;
	s->w->pending++;
	snprintf(s->last_err, sizeof(s->last_err), "%s", why);
	if (s->w->m->o->verbose) {
		lg_addr_str(s->addr, a, sizeof(a));
		fprintf(stderr, "routehub-loadgen: %s %u (%s): %s; retrying\n",
		        lg_role_name(s->role), s->idx, a, why);
	}
}

void
lg_sess_down(struct lg_sess *s, const char *why)
{
	bool was_est = s->state == LG_S_ESTABLISHED;
	char a[32];

	if (s->fd < 0)
		return;
	epoll_ctl(s->w->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->out_armed = false;
	s->state = LG_S_DOWN;
	queue_clear(s);
	s->carry_len = 0;
	slot_release(s);
	snprintf(s->last_err, sizeof(s->last_err), "%s", why);
	if (s->flush_note) {
		s->flush_note = false;
		atomic_fetch_sub_explicit(&lg_run->flush_pending, 1, memory_order_release);
	}
	if (was_est)
		atomic_fetch_sub_explicit(&lg_run->n_est[s->role], 1, memory_order_relaxed);
	if (s->role == LG_ROLE_MFEEDER)
		lg_mirror_down(s);
	if (s->churning) {
		s->churning = false;
		atomic_fetch_sub_explicit(&s->w->churn_active, 1, memory_order_relaxed);
	}
	lg_wake_main();
	if (s->want_down || !client_role(s))
		return;
	if (!was_est && !s->ever_est) {
		retry_later(s, why);
		return;
	}
	lg_addr_str(s->addr, a, sizeof(a));
	lg_fatal("%s %u (%s, AS%u): session lost: %s", lg_role_name(s->role), s->idx, a, s->asn,
	         why);
}

/* ---- OPEN (RFC 4271 §4.2) and the FSM ------------------------------------------------- */
static int
send_open(struct lg_sess *s)
{
	const struct lg_model *m = s->w->m;
	struct bgp_open o;
	uint8_t *buf = malloc(BGP_MAX_MSG);
	size_t len;

	memset(&o, 0, sizeof(o));
	o.version = BGP_VERSION;
	o.asn = s->asn;
	o.my_as = s->asn > 0xffff ? BGP_AS_TRANS : (uint16_t)s->asn;
	/* The mirror proposes no keepalives (hold 0, RFC 4271 §4.4). */
	o.hold_time = client_role(s) ? m->o->hold : 0;
	o.bgp_id = s->addr;
	o.caps =
	    BGP_CAPF_MP | BGP_CAPF_RREFRESH | BGP_CAPF_AS4 | (m->o->extmsg ? BGP_CAPF_EXTMSG : 0);
	o.mp[BGP_AF_IPV4] = 1;
	o.mp[BGP_AF_IPV6] = m->has_v6;
	if (!buf || bgp_open_encode(&o, buf, BGP_MAX_MSG, &len) < 0) {
		free(buf);
		lg_fatal("cannot encode OPEN");
		return -1;
	}
	count(s, true, 0, 1);
	return lg_sess_send(s, buf, len, true);
}

static void
on_open(struct lg_sess *s, const uint8_t *msg, size_t len)
{
	const struct lg_model *m = s->w->m;
	struct bgp_open o;
	struct bgp_error err;
	uint16_t hold;
	char a[32];

	lg_addr_str(s->addr, a, sizeof(a));
	if (s->state != LG_S_OPENSENT) {
		send_notification(s, BGP_ERR_FSM, BGP_ERR_FSM_UNSPEC);
		lg_sess_down(s, "OPEN in the wrong state");
		return;
	}
	if (bgp_open_decode(msg, len, &o, &err) < 0) {
		send_notification(s, err.code, err.subcode);
		lg_sess_down(s, err.reason ? err.reason : "bad OPEN");
		return;
	}
	if (client_role(s) && !m->transparent && o.asn != m->rs_asn) {
		lg_fatal("%s %u (%s): the route server is AS%u, --rs-asn says %u",
		         lg_role_name(s->role), s->idx, a, o.asn, m->rs_asn);
		lg_sess_down(s, "unexpected route server ASN");
		return;
	}
	if (!(o.caps & BGP_CAPF_AS4)) {
		lg_fatal("%s %u (%s): the peer does not offer 4-octet AS numbers (RFC 6793)",
		         lg_role_name(s->role), s->idx, a);
		lg_sess_down(s, "no 4-octet AS capability");
		return;
	}
	if (m->o->extmsg && !(o.caps & BGP_CAPF_EXTMSG)) {
		lg_fatal("%s %u (%s): --extmsg, but the peer does not offer RFC 8654 extended "
		         "messages",
		         lg_role_name(s->role), s->idx, a);
		lg_sess_down(s, "no extended messages");
		return;
	}
	bgp_sess_init(&s->bs);
	s->bs.as4 = true;
	s->bs.ext_msg = m->o->extmsg;
	/* RFC 4760 §8: no MP capability at all means IPv4 unicast only. */
	s->bs.af[BGP_AF_IPV4] = o.mp[BGP_AF_IPV4] || !(o.caps & BGP_CAPF_MP);
	s->bs.af[BGP_AF_IPV6] = o.mp[BGP_AF_IPV6] && m->has_v6;
	if (m->has_v6 && !s->bs.af[BGP_AF_IPV6]) {
		lg_fatal("%s %u (%s): the workload has IPv6 prefixes; the peer does not offer "
		         "IPv6 unicast",
		         lg_role_name(s->role), s->idx, a);
		lg_sess_down(s, "no IPv6 unicast");
		return;
	}
	s->peer_asn = o.asn;
	s->peer_id = o.bgp_id;
	s->bs.ibgp = o.asn == s->asn;
	/* A feeder's streams are encoded for one kind of session: an iBGP
	 * feeder's routes to an external peer would lack its ASN, an eBGP
	 * feeder's to its own AS carry the route server's ASN (an AS loop it
	 * drops, RFC 4271 §9.1.2). */
	if (s->role == LG_ROLE_FEEDER && s->bs.ibgp != m->ibgp_feeders) {
		lg_fatal("feeder %u (%s, AS%u): the route server is AS%u: %s", s->idx, a, s->asn,
		         o.asn,
		         m->ibgp_feeders ? "an eBGP session, but --ibgp-feeders"
		                         : "an iBGP session: give --ibgp-feeders (an eBGP feeder "
		                           "puts its own ASN first in AS_PATH)");
		send_notification(s, BGP_ERR_OPEN, BGP_ERR_OPEN_PEER_AS);
		lg_sess_down(s, "feeder session of the wrong kind");
		return;
	}
	hold = client_role(s) ? m->o->hold : 0;
	s->hold = o.hold_time < hold ? o.hold_time : hold; /* RFC 4271 §4.2 */
	s->state = LG_S_OPENCONFIRM;
	count(s, true, 0, 1);
	lg_sess_send(s, keepalive_msg, sizeof(keepalive_msg), false);
}

static void
on_established(struct lg_sess *s)
{
	s->state = LG_S_ESTABLISHED;
	s->ever_est = true;
	s->retries = 0;
	s->t_est = lg_now();
	if (s->hold)
		s->next_ka = s->t_est + (uint64_t)s->hold * 1000000000ull / 3;
	slot_release(s);
	atomic_fetch_add_explicit(&lg_run->n_est[s->role], 1, memory_order_relaxed);
	if (s->role == LG_ROLE_MSPOKE) {
		s->log_cur = 0;
		lg_mirror_write(s);
	}
	if (s->role == LG_ROLE_SPOKE)
		lg_spoke_check(s);
	lg_wake_main();
}

static void
on_message(struct lg_sess *s, uint8_t type, const uint8_t *msg, size_t len)
{
	struct bgp_notify n;
	struct bgp_error err;
	char why[400];

	count(s, false, 0, 1);
	switch (type) {
	case BGP_MSG_OPEN:
		on_open(s, msg, len);
		return;
	case BGP_MSG_KEEPALIVE:
		if (s->state == LG_S_OPENCONFIRM)
			on_established(s);
		return;
	case BGP_MSG_NOTIFICATION:
		if (bgp_notify_decode(msg, len, &n, &err) < 0) {
			lg_sess_down(s, "malformed NOTIFICATION");
			return;
		}
		snprintf(why, sizeof(why), "NOTIFICATION received: %s%s%s",
		         bgp_err_name(n.code, n.subcode), n.shutdown_msg[0] ? ": " : "",
		         n.shutdown_msg);
		s->rx_notify++;
		lg_sess_down(s, why);
		return;
	case BGP_MSG_UPDATE:
		if (s->state != LG_S_ESTABLISHED) {
			send_notification(s, BGP_ERR_FSM, BGP_ERR_FSM_OPENCONFIRM);
			lg_sess_down(s, "UPDATE before the session was established");
			return;
		}
		WADD(s->w->c[s->role].rx_updates, 1);
		if (s->role == LG_ROLE_SPOKE) {
			s->w->spoke_rx = true;
			lg_spoke_update(s, msg, len);
		} else if (s->role == LG_ROLE_MFEEDER)
			lg_mirror_update(s, msg, len);
		/* A feeder only counts what the route server sends it. */
		return;
	case BGP_MSG_ROUTE_REFRESH:
		/* RFC 2918 §4: re-advertise. A feeder re-sends what it holds;
		 * the mirror re-sends its log to a spoke. */
		if (s->state != LG_S_ESTABLISHED)
			return;
		if (s->role == LG_ROLE_FEEDER && s->announced) {
			const struct lg_feeder *f = &s->w->m->feeders[s->idx];
			lg_sess_send(s, f->ann.buf, f->ann.len, false);
			count(s, true, 0, f->ann.n_msgs);
		} else if (s->role == LG_ROLE_MSPOKE) {
			s->rr_pending = true;
			lg_mirror_write(s);
		}
		return;
	default:
		return;
	}
}

/* Read what is there, cut it into messages, keep an incomplete tail. */
static void
sess_read(struct lg_sess *s)
{
	struct lg_worker *w = s->w;

	/* One read per event: epoll is level-triggered and returns the session
	 * again, so one busy peer cannot delay commands, timers and churn. */
	for (int iter = 0; iter < 1 && s->fd >= 0; iter++) {
		size_t off = s->carry_len, total, pos = 0;
		ssize_t n;
		if (off)
			memcpy(w->rbuf, s->carry, off);
		n = read(s->fd, w->rbuf + off, w->rcap - off);
		if (n == 0) {
			lg_sess_down(s, "connection closed by the peer");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				lg_sess_down(s, strerror(errno));
			return;
		}
		count(s, false, (uint64_t)n, 0);
		total = off + (size_t)n;
		s->carry_len = 0;
		while (total - pos >= BGP_HDR_LEN && s->fd >= 0) {
			struct bgp_error err;
			uint8_t type;
			uint16_t mlen;
			if (bgp_hdr_check(w->rbuf + pos, total - pos, bgp_sess_max_msg(&s->bs),
			                  &type, &mlen, &err) < 0) {
				send_notification(s, err.code, err.subcode);
				lg_sess_down(s, err.reason ? err.reason : "bad message header");
				return;
			}
			if (mlen > total - pos)
				break;
			on_message(s, type, w->rbuf + pos, mlen);
			pos += mlen;
		}
		if (s->w->spoke_rx) {
			/* For --settle: when routes last moved (KEEPALIVEs do not count). */
			s->w->spoke_rx = false;
			atomic_store_explicit(&w->last_spoke_rx, lg_now(), memory_order_relaxed);
		}
		if (s->fd < 0)
			return;
		if (pos < total) {
			size_t left = total - pos;
			if (left > s->carry_cap) {
				uint8_t *nc = realloc(s->carry, BGP_MAX_EXT_MSG);
				if (!nc) {
					lg_fatal("out of memory");
					return;
				}
				s->carry = nc;
				s->carry_cap = BGP_MAX_EXT_MSG;
			}
			memcpy(s->carry, w->rbuf + pos, left);
			s->carry_len = (uint32_t)left;
		}
		if ((size_t)n < w->rcap - off)
			return; /* drained */
	}
}

static void
sess_connect(struct lg_sess *s)
{
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(s->addr)};
	struct sockaddr_in dst = {.sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(lg_run->target_addr),
	                          .sin_port = htons(lg_run->target_port)};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = s};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		lg_fatal("socket: %s (raise the open file limit?)", strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Let connect() pick the port for the whole 4-tuple: many sessions
	 * from one source address and reconnects do not run out of ports. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		char a[32];
		lg_addr_str(s->addr, a, sizeof(a));
		lg_fatal("bind %s: %s", a, strerror(errno));
		close(fd);
		return;
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		slot_release(s);
		retry_later(s, strerror(e));
		return;
	}
	s->fd = fd;
	s->state = LG_S_CONNECTING;
	s->out_armed = true;
	s->carry_len = 0;
	s->retry_at = lg_now() + CONNECT_LIMIT;
	if (epoll_ctl(s->w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		lg_fatal("epoll_ctl: %s", strerror(errno));
		close(fd);
		s->fd = -1;
	}
}

static void
on_writable(struct lg_sess *s)
{
	if (s->state == LG_S_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			lg_sess_down(s, strerror(err));
			return;
		}
		s->state = LG_S_OPENSENT;
		s->out_armed = true; /* sess_flush disarms once the OPEN is out */
		send_open(s);
		return;
	}
	sess_flush(s);
}

/* ---- commands ------------------------------------------------------------------------------ */
static void
mark_flush(struct lg_sess *s)
{
	if (s->flush_note || s->fd < 0)
		return;
	s->flush_note = true;
	atomic_fetch_add_explicit(&lg_run->flush_pending, 1, memory_order_relaxed);
	if (!s->qn && !s->out_armed)
		sess_flush(s);
}

static void
first_tx(struct lg_worker *w)
{
	uint64_t z = 0;

	atomic_compare_exchange_strong_explicit(&w->t_first_tx, &z, lg_now(), memory_order_relaxed,
	                                        memory_order_relaxed);
}

static void
send_stream(struct lg_sess *s, const struct lg_stream *st)
{
	struct lg_counters *c = &s->w->c[s->role];

	if (!st->len)
		return;
	first_tx(s->w);
	atomic_fetch_add_explicit(&c->tx_msgs, st->n_msgs, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->tx_updates, st->n_msgs, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->tx_pfx, st->n_pfx, memory_order_relaxed);
	s->flush_note = false;
	lg_sess_send(s, st->buf, st->len, false);
	mark_flush(s);
}

static void
send_eor(struct lg_sess *s)
{
	const struct lg_model *m = s->w->m;

	lg_sess_send(s, m->eor4, sizeof(m->eor4), false);
	count(s, true, 0, 1);
	if (s->bs.af[BGP_AF_IPV6]) {
		lg_sess_send(s, m->eor6, m->eor6_len, false);
		count(s, true, 0, 1);
	}
	mark_flush(s);
}

static void
send_refresh(struct lg_sess *s)
{
	for (uint8_t af = 0; af < BGP_AF_MAX; af++) {
		struct bgp_rrefresh rr = {bgp_af_afi(af), BGP_RR_NORMAL, BGP_SAFI_UNICAST};
		uint8_t *buf;
		size_t len;
		if (!s->bs.af[af])
			continue;
		buf = malloc(BGP_RREFRESH_LEN);
		if (!buf || bgp_rrefresh_encode(&rr, buf, BGP_RREFRESH_LEN, &len) < 0) {
			free(buf);
			continue;
		}
		lg_sess_send(s, buf, len, true);
		count(s, true, 0, 1);
	}
}

static void
do_reset(struct lg_sess *s, bool tcp)
{
	s->want_down = true;
	s->announced = false;
	if (s->fd < 0)
		return;
	if (tcp || s->qn) {
		/* SO_LINGER 0: close sends a RST, the hardest of resets. */
		struct linger lg = {1, 0};
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		lg_sess_down(s, "reset (TCP RST)");
		return;
	}
	/* RFC 4486 §4: Cease, Administrative Reset; then close. */
	send_notification(s, BGP_ERR_CEASE, BGP_ERR_CEASE_ADMIN_RESET);
	lg_sess_down(s, "reset (NOTIFICATION Cease/Administrative Reset)");
}

static void
handle_cmd(struct lg_worker *w, const struct lg_cmd *c)
{
	const struct lg_model *m = w->m;

	if (c->kind == LG_CMD_STOP) {
		w->stop = true;
		return;
	}
	if (c->kind == LG_CMD_CHURN) {
		w->churn_t0 = c->t0;
		w->churn_end = c->t0 + (uint64_t)(c->duration * 1e9);
		w->churn_mps = c->rate;
		w->churning = true;
	}
	for (uint32_t i = 0; i < w->nsess; i++) {
		struct lg_sess *s = w->sess[i];
		const struct lg_feeder *f = s->role == LG_ROLE_FEEDER ? &m->feeders[s->idx] : NULL;
		bool fsel = f && c->fsel && c->fsel[s->idx];
		bool ssel = s->role == LG_ROLE_SPOKE && c->ssel && c->ssel[s->idx];
		bool est = s->state == LG_S_ESTABLISHED;

		switch (c->kind) {
		case LG_CMD_CONNECT:
			if ((fsel || ssel) && (s->state == LG_S_IDLE || s->state == LG_S_DOWN)) {
				s->want_down = false;
				s->ever_est = false;
				s->retries = 0;
				s->state = LG_S_WAITSLOT;
				s->retry_at = 0;
				w->pending++;
			}
			break;
		case LG_CMD_ANNOUNCE:
			if (fsel && est) {
				s->announced = true;
				send_stream(s, &f->ann);
			}
			break;
		case LG_CMD_WITHDRAW:
			if (fsel && est && s->announced) {
				s->announced = false;
				send_stream(s, &f->wd);
			}
			break;
		case LG_CMD_EOR:
			if ((fsel || ssel) && est)
				send_eor(s);
			break;
		case LG_CMD_CHURN:
			if (fsel && est && f->churn.n && !s->churning) {
				s->churning = true;
				s->churn_sent = 0;
				atomic_fetch_add_explicit(&w->churn_active, 1,
				                          memory_order_relaxed);
			}
			break;
		case LG_CMD_RESET:
			if (fsel)
				do_reset(s, c->tcp);
			break;
		case LG_CMD_REFRESH:
			if (ssel && est) {
				s->sp->rr_base =
				    atomic_load_explicit(&s->sp->n_ann, memory_order_relaxed);
				s->sp->rr_gen =
				    atomic_load_explicit(&m->exp.gen, memory_order_acquire);
				send_refresh(s);
			}
			break;
		default:
			break;
		}
	}
	/* Whatever the command, spokes compare themselves with the (maybe new)
	 * expectation. */
	for (uint32_t i = 0; i < w->nsess; i++)
		if (w->sess[i]->role == LG_ROLE_SPOKE && w->sess[i]->state == LG_S_ESTABLISHED)
			lg_spoke_check(w->sess[i]);
}

static void
drain_cmds(struct lg_worker *w)
{
	struct lg_cmd cmds[32];
	uint64_t v;
	unsigned n;

	if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		perror("routehub-loadgen: eventfd");
	pthread_mutex_lock(&w->mu);
	n = w->ncmd;
	memcpy(cmds, w->cmds, n * sizeof(cmds[0]));
	w->ncmd = 0;
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < n; i++) {
		handle_cmd(w, &cmds[i]);
		atomic_fetch_add_explicit(&w->acked, 1, memory_order_release);
	}
	if (n)
		lg_wake_main();
}

void
lg_cmd_post(struct lg_run *r, const struct lg_cmd *c)
{
	uint64_t one = 1;

	for (uint32_t i = 0; i < r->nw; i++) {
		struct lg_worker *w = &r->w[i];
		pthread_mutex_lock(&w->mu);
		if (w->ncmd < sizeof(w->cmds) / sizeof(w->cmds[0]))
			w->cmds[w->ncmd++] = *c;
		else
			lg_fatal("command mailbox full");
		w->posted++;
		pthread_mutex_unlock(&w->mu);
		if (write(w->evfd, &one, sizeof(one)) < 0)
			perror("routehub-loadgen: eventfd");
	}
}

bool
lg_cmd_acked(struct lg_run *r)
{
	for (uint32_t i = 0; i < r->nw; i++) {
		uint64_t posted;
		pthread_mutex_lock(&r->w[i].mu);
		posted = r->w[i].posted;
		pthread_mutex_unlock(&r->w[i].mu);
		if (atomic_load_explicit(&r->w[i].acked, memory_order_acquire) != posted)
			return false;
	}
	return true;
}

/* ---- timed work ---------------------------------------------------------------------------- */
static void
churn_tick(struct lg_worker *w, uint64_t now)
{
	const struct lg_model *m = w->m;
	bool over = now >= w->churn_end;
	double el = (double)((over ? w->churn_end : now) - w->churn_t0) * 1e-9;
	uint32_t still = 0;

	for (uint32_t i = 0; i < w->nsess; i++) {
		struct lg_sess *s = w->sess[i];
		const struct lg_churn *c;
		uint64_t due, k;
		size_t total = 0;
		uint8_t *buf, *d;
		if (!s->churning)
			continue;
		c = &m->feeders[s->idx].churn;
		due = (uint64_t)(el * w->churn_mps);
		if (due > s->churn_sent) {
			k = due - s->churn_sent;
			if (s->qbytes > CHURN_QMAX) {
				/* The route server does not keep up: do not queue
				 * without bound; say so in the report. */
				atomic_fetch_add_explicit(&w->churn_skipped, k,
				                          memory_order_relaxed);
				s->churn_sent = due;
			} else {
				uint64_t stamp = lg_now();
				uint32_t st[2] = {htonl((uint32_t)(stamp >> 32)),
				                  htonl((uint32_t)stamp)};
				uint64_t pfx = 0;
				for (uint64_t j = 0, x = s->churn_next; j < k;
				     j++, x = (x + 1) % c->n)
					total += c->mlen[x];
				buf = malloc(total);
				if (!buf) {
					lg_fatal("out of memory");
					return;
				}
				d = buf;
				for (uint64_t j = 0; j < k; j++) {
					uint32_t x = s->churn_next;
					memcpy(d, c->buf + c->off[x], c->mlen[x]);
					memcpy(d + c->stamp_off[x], st, 8);
					d += c->mlen[x];
					pfx += c->npfx[x];
					s->churn_next = (x + 1) % c->n;
				}
				first_tx(w);
				atomic_fetch_add_explicit(&w->c[LG_ROLE_FEEDER].tx_msgs, k,
				                          memory_order_relaxed);
				atomic_fetch_add_explicit(&w->c[LG_ROLE_FEEDER].tx_updates, k,
				                          memory_order_relaxed);
				atomic_fetch_add_explicit(&w->c[LG_ROLE_FEEDER].tx_pfx, pfx,
				                          memory_order_relaxed);
				s->churn_sent = due;
				lg_sess_send(s, buf, total, true);
			}
		}
		if (over) {
			s->churning = false;
			atomic_fetch_sub_explicit(&w->churn_active, 1, memory_order_relaxed);
		} else {
			still++;
		}
	}
	if (over || !still) {
		w->churning = false;
		lg_wake_main();
	}
}

static void
tick(struct lg_worker *w, uint64_t now)
{
	if (w->churning)
		churn_tick(w, now);
	if (w->pending || now >= w->next_tick) {
		uint32_t pending = 0;
		w->next_tick = now + 100000000ull;
		for (uint32_t i = 0; i < w->nsess; i++) {
			struct lg_sess *s = w->sess[i];
			switch (s->state) {
			case LG_S_WAITSLOT:
				pending++;
				if (now < s->retry_at)
					break;
				if (atomic_fetch_add_explicit(&lg_run->slots, 1,
				                              memory_order_relaxed) >=
				    lg_run->max_slots) {
					atomic_fetch_sub_explicit(&lg_run->slots, 1,
					                          memory_order_relaxed);
					break;
				}
				s->has_slot = true;
				pending--;
				sess_connect(s);
				break;
			case LG_S_CONNECTING:
			case LG_S_OPENSENT:
			case LG_S_OPENCONFIRM:
				if (client_role(s) && now >= s->retry_at)
					lg_sess_down(s, "not open after 10 s");
				break;
			case LG_S_ESTABLISHED:
				if (s->hold && now >= s->next_ka) {
					s->next_ka = now + (uint64_t)s->hold * 1000000000ull / 3;
					count(s, true, 0, 1);
					lg_sess_send(s, keepalive_msg, sizeof(keepalive_msg),
					             false);
				}
				break;
			default:
				break;
			}
		}
		w->pending = pending;
	}
}

static void *
worker_main(void *arg)
{
	struct lg_worker *w = arg;
	struct epoll_event ev[256];

	while (!w->stop) {
		int timeout = w->churning ? 1 : w->pending ? 2 : 50, n;
		struct timespec cpu;
		n = epoll_wait(w->epfd, ev, 256, timeout);
		if (n < 0 && errno != EINTR) {
			lg_fatal("epoll_wait: %s", strerror(errno));
			break;
		}
		/* Commands first: a phase starts when the main thread says so,
		 * not after a round of reads. */
		for (int i = 0; i < n; i++)
			if (ev[i].data.ptr == &w->evfd)
				drain_cmds(w);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			struct lg_sess *s = p;
			if (p == &w->evfd)
				continue;
			if (p == &w->lfd) {
				lg_mirror_accept(w);
				continue;
			}
			if (s->fd < 0)
				continue;
			/* Connected and the peer's OPEN already there: send ours
			 * first (the FSM moves to OpenSent before it reads). */
			if (s->state == LG_S_CONNECTING)
				on_writable(s);
			if (s->fd >= 0 && (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				sess_read(s);
			if (s->fd >= 0 && (ev[i].events & EPOLLOUT) && s->state != LG_S_CONNECTING)
				on_writable(s);
		}
		if (w->mirror)
			lg_mirror_flush(w);
		tick(w, lg_now());
		/* CPU time, not wall time: on a machine shared with the daemon
		 * under test a preempted thread is not a busy one. */
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
		atomic_store_explicit(&w->busy_ns,
		                      (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec,
		                      memory_order_relaxed);
	}
	/* The sockets stay open: lg_run_stop closes them once every worker has
	 * stopped (a close here would be seen by the threads still running). */
	lg_rxcache_free(w);
	return NULL;
}

static int
worker_add(struct lg_worker *w, struct lg_sess *s)
{
	if (w->nsess == w->capsess) {
		uint32_t nc = w->capsess ? w->capsess * 2 : 64;
		struct lg_sess **n = realloc(w->sess, nc * sizeof(*n));
		if (!n)
			return -1;
		w->sess = n;
		w->capsess = nc;
	}
	w->sess[w->nsess++] = s;
	s->w = w;
	return 0;
}

static int
worker_init(struct lg_run *r, struct lg_worker *w, int id)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->evfd};

	w->id = id;
	w->m = r->m;
	w->lfd = -1;
	pthread_mutex_init(&w->mu, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->rcap = RBUF_SIZE + BGP_MAX_EXT_MSG;
	w->rbuf = malloc(w->rcap);
	w->lat = calloc(r->o->n_phases, sizeof(*w->lat));
	if (w->epfd < 0 || w->evfd < 0 || !w->rbuf || !w->lat)
		return -1;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
}

static int
sess_init(struct lg_sess *s, enum lg_role role, uint32_t idx, uint32_t addr, uint32_t asn)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->role = (uint8_t)role;
	s->idx = idx;
	s->addr = addr;
	s->asn = asn;
	bgp_sess_init(&s->bs);
	s->bs.as4 = true;
	return 0;
}

int
lg_run_start(struct lg_run *r)
{
	struct lg_model *m = r->m;
	const struct lg_opts *o = r->o;
	uint32_t nio = o->threads, a;

	lg_run = r;
	r->nw = nio + (o->self_test ? 1 : 0);
	r->w = calloc(r->nw, sizeof(*r->w));
	r->feeders = calloc(m->n_feeders + 1, sizeof(*r->feeders));
	r->spokes = calloc(m->n_spokes + 1, sizeof(*r->spokes));
	if (!r->w || !r->feeders || !r->spokes)
		return -1;
	pthread_mutex_init(&r->fatal_mu, NULL);
	r->mainfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->max_slots = o->connect_batch;
	for (uint32_t i = 0; i < r->nw; i++)
		if (worker_init(r, &r->w[i], (int)i) < 0)
			return -1;
	for (uint32_t i = 0; i < m->n_feeders; i++) {
		struct lg_feeder *f = &m->feeders[i];
		sess_init(&r->feeders[i], LG_ROLE_FEEDER, i, f->addr, f->asn);
		f->sess = &r->feeders[i];
		if (worker_add(&r->w[i % nio], &r->feeders[i]) < 0)
			return -1;
	}
	a = o->spoke_addr;
	for (uint32_t i = 0; i < m->n_spokes; i++) {
		struct lg_sess *s = &r->spokes[i];
		if ((a & 0xff) == 0 || (a & 0xff) == 0xff)
			a++;
		sess_init(s, LG_ROLE_SPOKE, i, a, o->spoke_asn + i * o->spoke_asn_step);
		s->sp = malloc(sizeof(*s->sp));
		if (!s->sp || lg_spoke_init(s->sp, m) < 0) {
			fprintf(stderr,
			        "routehub-loadgen: out of memory for %u spokes x %u prefixes\n",
			        m->n_spokes, m->tab.n);
			return -1;
		}
		if (worker_add(&r->w[(m->n_feeders + i) % nio], s) < 0)
			return -1;
		a++;
		if ((a & 0xff) == 0xff)
			a += 2;
	}
	if (o->self_test) {
		struct lg_worker *mw = &r->w[nio];
		mw->mirror = true;
		if (lg_mirror_listen(r, mw) < 0)
			return -1;
		for (uint32_t i = 0; i < m->n_feeders; i++)
			if (worker_add(mw, &r->mfeeders[i]) < 0)
				return -1;
		for (uint32_t i = 0; i < m->n_spokes; i++)
			if (worker_add(mw, &r->mspokes[i]) < 0)
				return -1;
	} else {
		r->target_addr = o->target_addr;
		r->target_port = o->target_port;
	}
	for (uint32_t i = 0; i < r->nw; i++)
		if (pthread_create(&r->w[i].th, NULL, worker_main, &r->w[i]) != 0)
			return -1;
	return 0;
}

void
lg_run_stop(struct lg_run *r)
{
	struct lg_cmd c = {.kind = LG_CMD_STOP};

	if (!r->w)
		return;
	lg_cmd_post(r, &c);
	for (uint32_t i = 0; i < r->nw; i++)
		pthread_join(r->w[i].th, NULL);
	/* Only now close the sockets, without touching state and last_err: the
	 * main thread reports them (explain_timeout in main.c). Workers stop one
	 * after the other, and a worker closing its sockets while another still
	 * ran would be seen by it as a peer going down: the mirror would send
	 * the spokes the closed feeders' withdrawals, a spoke thread would take
	 * the closed mirror for a lost session, and what is reported after the
	 * join would be that teardown, not the state the run ended in. */
	for (uint32_t i = 0; i < r->nw; i++) {
		struct lg_worker *w = &r->w[i];
		for (uint32_t k = 0; k < w->nsess; k++) {
			struct lg_sess *s = w->sess[k];
			if (s->fd >= 0) {
				close(s->fd);
				s->fd = -1;
			}
			queue_clear(s);
		}
	}
}
