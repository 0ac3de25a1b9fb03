/*
 * daemon.c — routehubd's skeleton: io threads, listeners, the accept path,
 * reload and shutdown.
 *
 * Threads: the main thread calls every public function here; each io thread
 * runs one io_loop (io_loop_run) and owns the peers placed on it. The main
 * thread never touches a peer: it posts commands (struct cmd) to the loops.
 * A static peer lives on the loop hash(name) % nloops, so commands about one
 * peer reach one loop in the order they were posted. Dynamic neighbours
 * (range entries) are placed by hash of their address; commands about a
 * range entry go to every loop.
 *
 * The accept path runs on loop 0: cfg_peer_match() against the current
 * configuration, and a connection from an unknown address is closed before
 * anything is allocated for it (counted in refused_unknown).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "routehub/bgp.h"
#include "routehub/log.h"
#include "routehub/rib.h"
#include "export.h"
#include "daemon_int.h"

/* ---- placement ------------------------------------------------------------------ */

struct sess_loop *
daemon_owner(struct rh_daemon *d, const char *name)
{
	return &d->loops[XXH3_64bits(name, strlen(name)) % d->nloops];
}

static struct sess_loop *
owner_addr(struct rh_daemon *d, const struct sockaddr *sa)
{
	struct cfg_addr a;
	cfg_addr_from_sockaddr(sa, &a);
	return &d->loops[XXH3_64bits(a.addr, 16) % d->nloops];
}

struct io_buf *
daemon_keepalive_buf(struct rh_daemon *d)
{
	return d->keepalive;
}

int
daemon_local_addr(struct rh_daemon *d, const struct peer *p, struct sockaddr_storage *ss,
                  socklen_t *len)
{
	const struct cfg *c = p->cfg;
	const struct cfg_addr *a = NULL;

	(void)d;
	if (p->cp->has_local_address) {
		a = &p->cp->local_address;
	} else {
		static const uint8_t zero[16];
		for (size_t i = 0; i < c->nlisten; i++) {
			const struct cfg_addr *l = &c->listen[i].addr;
			if (l->family == p->addr.family && memcmp(l->addr, zero, 16) != 0) {
				a = l;
				break;
			}
		}
	}
	if (!a || a->family != p->addr.family)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->addr, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->addr, 16);
		*len = sizeof(*s6);
	}
	return 0;
}

/* ---- commands to loops ------------------------------------------------------------ */

enum cmd_type {
	CMD_PEER_NEW,    /* static peer cp starts on this loop */
	CMD_PEER_DELETE, /* peers of entry `name` stop with Cease/subcode */
	CMD_PEER_UPDATE, /* peers of entry `name` take the new cp */
	CMD_STOP_ALL,    /* shutdown: every peer gets Cease/Admin Shutdown + msg */
	CMD_ACCEPT,      /* a connection for entry cp */
	CMD_MD5,         /* loop 0: listener keys for the new configuration */
	CMD_RESET,       /* operator reset of peers by name or address */
};

struct cmd {
	enum cmd_type type;
	struct sess_loop *sl;
	const struct cfg *cfg;
	const struct cfg_peer *cp;
	char *name;
	uint8_t subcode;
	int fd;
	int mode;             /* CMD_RESET: enum daemon_reset */
	struct cfg_addr addr; /* CMD_RESET by address (family 0: by name) */
	struct sockaddr_storage remote;
	socklen_t rlen;
	char msg[256];
};

static void
cmd_run(void *arg)
{
	struct cmd *c = arg;
	struct sess_loop *sl = c->sl;
	struct peer *p, *next;

	switch (c->type) {
	case CMD_PEER_NEW:
		if (!sl->stopping && !sess_peer_find(sl, c->cp->name, NULL))
			sess_peer_new(sl, c->cfg, c->cp);
		break;
	case CMD_PEER_DELETE:
		for (p = sl->peers; p; p = next) {
			next = p->next;
			if (strcmp(p->cp->name, c->name) == 0) {
				log_info("peer %s %s: stopping (%s)", p->cp->name, p->addrstr,
				         bgp_err_name(BGP_ERR_CEASE, c->subcode));
				sess_peer_delete(p, c->subcode, NULL);
			}
		}
		break;
	case CMD_PEER_UPDATE:
		for (p = sl->peers; p; p = p->next)
			if (strcmp(p->cp->name, c->cp->name) == 0)
				sess_peer_update(p, c->cfg, c->cp);
		break;
	case CMD_STOP_ALL:
		sl->stopping = true;
		for (p = sl->peers; p; p = next) {
			next = p->next;
			sess_peer_delete(p, BGP_ERR_CEASE_ADMIN_SHUTDOWN, c->msg);
		}
		if (sl->ntcp == 0)
			daemon_loop_drained(sl);
		break;
	case CMD_ACCEPT:
		sess_incoming(sl, c->cfg, c->cp, c->fd, (struct sockaddr *)&c->remote, c->rlen);
		break;
	case CMD_MD5:
		break;
	case CMD_RESET:
		for (p = sl->peers; p; p = next) {
			next = p->next; /* a hard reset may free a dynamic peer */
			if (c->addr.family ? memcmp(&p->addr, &c->addr, sizeof(c->addr)) == 0
			                   : strcmp(p->cp->name, c->name) == 0)
				sess_peer_reset_op(p, c->mode, c->msg);
		}
		break;
	}
	free(c->name);
	free(c);
}

static int
post(struct sess_loop *sl, struct cmd *c)
{
	int r;

	c->sl = sl;
	/* The queue is large; when full, yield and retry for a bounded time:
	 * commands are control-path events, not worth losing. */
	for (int i = 0; i < 10000; i++) {
		r = io_loop_post(sl->io, cmd_run, c);
		if (r != -EAGAIN)
			return r;
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	return -EAGAIN;
}

static struct cmd *
cmd_new(enum cmd_type t, const struct cfg *cfg, const struct cfg_peer *cp)
{
	struct cmd *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->type = t;
	c->cfg = cfg;
	c->cp = cp;
	c->fd = -1;
	return c;
}

static void
post_all(struct rh_daemon *d, enum cmd_type t, const struct cfg *cfg, const struct cfg_peer *cp,
         const char *name, uint8_t subcode)
{
	for (unsigned i = 0; i < d->nloops; i++) {
		struct cmd *c = cmd_new(t, cfg, cp);
		if (!c)
			continue;
		c->name = name ? strdup(name) : NULL;
		c->subcode = subcode;
		if (post(&d->loops[i], c) < 0) {
			free(c->name);
			free(c);
		}
	}
}

static void
post_new(struct rh_daemon *d, const struct cfg *cfg, const struct cfg_peer *cp)
{
	struct cmd *c;

	if (cp->is_range)
		return; /* dynamic neighbours appear on accept */
	c = cmd_new(CMD_PEER_NEW, cfg, cp);
	if (c && post(daemon_owner(d, cp->name), c) < 0)
		free(c);
}

void
daemon_loop_drained(struct sess_loop *sl)
{
	struct rh_daemon *d = sl->d;

	if (sl->stop_done)
		return;
	sl->stop_done = true;
	pthread_mutex_lock(&d->mu);
	d->drained++;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* ---- accept -------------------------------------------------------------------------- */

/* Refused connections are logged at most REFUSED_LOG_BURST times per
 * REFUSED_LOG_WINDOW_MS: a scan must not flood the log, yet a neighbour that
 * is not configured must still show up in it later in the daemon's life (a
 * lifetime cap was used up for good by the first neighbour retrying every
 * second). Shared by every listener thread; a race at a window's edge costs a
 * line more or less, so relaxed atomics suffice. */
#define REFUSED_LOG_BURST     10
#define REFUSED_LOG_WINDOW_MS 60000

static _Atomic uint64_t refused_win_start;
static _Atomic unsigned refused_win_lines;

static bool
refused_log_ok(void)
{
	uint64_t now = io_now_ms();
	uint64_t start = atomic_load_explicit(&refused_win_start, memory_order_relaxed);

	if (start == 0 || now - start >= REFUSED_LOG_WINDOW_MS) {
		if (atomic_compare_exchange_strong_explicit(&refused_win_start, &start, now,
		                                            memory_order_relaxed,
		                                            memory_order_relaxed))
			atomic_store_explicit(&refused_win_lines, 0, memory_order_relaxed);
	}
	return atomic_fetch_add_explicit(&refused_win_lines, 1, memory_order_relaxed) <
	       REFUSED_LOG_BURST;
}

static void
accept_cb(struct io_listener *l, void *arg, int fd, const struct sockaddr *remote, socklen_t rlen,
          const struct sockaddr *local, socklen_t llen)
{
	struct rh_daemon *d = arg;
	/* acquire: pairs with the release store in daemon_apply, so the
	 * configuration's contents are visible before its pointer. */
	const struct cfg *cfg = atomic_load_explicit(&d->cfg, memory_order_acquire);
	const struct cfg_peer *cp = cfg_peer_match(cfg, remote);
	struct sess_loop *sl;
	struct cmd *c;

	(void)l;
	(void)local;
	(void)llen;
	if (!cp || !cp->enabled) {
		unsigned long n =
		    atomic_fetch_add_explicit(&d->refused_unknown, 1, memory_order_relaxed) + 1;
		close(fd);
		if (refused_log_ok()) {
			char a[INET6_ADDRSTRLEN] = "?";
			if (remote->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)remote)->sin_addr,
				          a, sizeof(a));
			else if (remote->sa_family == AF_INET6)
				inet_ntop(AF_INET6,
				          &((const struct sockaddr_in6 *)remote)->sin6_addr, a,
				          sizeof(a));
			log_notice("connection from %s refused: %s (%lu refused so far)", a,
			           cp ? "peer disabled" : "no configured peer", n);
		}
		return;
	}
	atomic_fetch_add_explicit(&d->accepted, 1, memory_order_relaxed);
	sl = cp->is_range ? owner_addr(d, remote) : daemon_owner(d, cp->name);
	c = cmd_new(CMD_ACCEPT, cfg, cp);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	memcpy(&c->remote, remote, rlen);
	c->rlen = rlen;
	c->sl = sl;
	if (sl->io == d->loops[0].io) {
		cmd_run(c); /* already on the owner's thread */
		return;
	}
	if (io_loop_post(sl->io, cmd_run, c) < 0) {
		close(fd);
		free(c);
	}
}

static void
listener_keys(struct rh_daemon *d, const struct cfg *c)
{
	for (size_t i = 0; i < c->npeers; i++) {
		const struct cfg_peer *cp = &c->peers[i];
		struct sockaddr_storage ss;
		socklen_t len;

		if (!cp->password)
			continue;
		memset(&ss, 0, sizeof(ss));
		if (cp->addr.family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, cp->addr.addr, 4);
			len = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, cp->addr.addr, 16);
			len = sizeof(*s6);
		}
		for (size_t k = 0; k < d->nlst; k++) {
			int r = io_listen_md5(d->lst[k], (struct sockaddr *)&ss, len, cp->addr.plen,
			                      cp->password, strlen(cp->password));
			if (r < 0 && r != -EAFNOSUPPORT && r != -EINVAL)
				log_warn("peer %s: cannot set TCP-MD5 key on listener: %s",
				         cp->name, strerror(-r));
		}
	}
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int
daemon_new(struct rh_daemon **out, struct cfg *c, const char *path)
{
	struct rh_daemon *d = calloc(1, sizeof(*d));
	size_t len;

	if (!d)
		return -1;
	atomic_init(&d->cfg, c);
	d->kept = calloc(1, sizeof(*d->kept));
	d->kept[0] = c;
	d->nkept = 1;
	d->path = path ? strdup(path) : NULL;
	d->nloops = c->io_threads ? c->io_threads : 1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->keepalive = io_buf_new(BGP_KEEPALIVE_LEN);
	if (!d->keepalive ||
	    bgp_keepalive_encode(d->keepalive->data, BGP_KEEPALIVE_LEN, &len) < 0) {
		free(d);
		return -1;
	}
	*out = d;
	return 0;
}

static void *
loop_thread(void *arg)
{
	struct sess_loop *sl = arg;
	char name[16];

	snprintf(name, sizeof(name), "rh-io%u", sl->idx);
	pthread_setname_np(pthread_self(), name);
	attr_thread_register();
	io_loop_run(sl->io);
	attr_thread_unregister();
	return NULL;
}

int
daemon_start(struct rh_daemon *d, char *err, size_t errlen)
{
	struct cfg *c = atomic_load_explicit(&d->cfg, memory_order_relaxed);
	char e[256];
	int r;

	if ((r = io_probe(e, sizeof(e))) < 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	d->loops = calloc(d->nloops, sizeof(*d->loops));
	for (unsigned i = 0; i < d->nloops; i++) {
		struct sess_loop *sl = &d->loops[i];
		sl->d = d;
		sl->idx = i;
		if ((r = io_loop_new(&sl->io, NULL, e, sizeof(e))) < 0) {
			snprintf(err, errlen, "io loop %u: %s", i, e);
			return -1;
		}
	}
	if (attr_init(64) < 0 ||
	    exp_new(&d->exp, d, d->nloops, c->rib_threads ? c->rib_threads : 1, c->asn,
	            c->router_id, c->cluster_id ? c->cluster_id : c->router_id) < 0 ||
	    exp_start(d->exp) < 0) {
		snprintf(err, errlen, "cannot start the RIB shards");
		return -1;
	}
	d->lst = calloc(c->nlisten ? c->nlisten : 1, sizeof(*d->lst));
	for (size_t i = 0; i < c->nlisten; i++) {
		const struct cfg_listen *l = &c->listen[i];
		struct sockaddr_storage ss;
		socklen_t len;
		char a[64];

		memset(&ss, 0, sizeof(ss));
		if (l->addr.family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_port = htons(l->port);
			memcpy(&s4->sin_addr, l->addr.addr, 4);
			len = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(l->port);
			memcpy(&s6->sin6_addr, l->addr.addr, 16);
			len = sizeof(*s6);
		}
		cfg_addr_fmt(&l->addr, a, sizeof(a));
		r = io_listen(d->loops[0].io, (struct sockaddr *)&ss, len, accept_cb, d,
		              &d->lst[i]);
		if (r < 0) {
			snprintf(err, errlen, "%s: listen on %s port %u: %s (line %d)", c->name, a,
			         l->port, strerror(-r), l->line);
			return -1;
		}
		d->nlst++;
		/* RFC 5082 §3: a GTSM peer drops our SYN-ACK unless it leaves
		 * with TTL 255; the per-peer minimum TTL is set on accept. */
		for (size_t k = 0; k < c->npeers; k++)
			if (c->peers[k].ttl_security) {
				io_listen_ttl(d->lst[i], 255);
				break;
			}
		log_info("listening on %s port %u", a, l->port);
	}
	listener_keys(d, c);
	/* Before the loops run, the main thread is their only user. */
	for (size_t i = 0; i < c->npeers; i++)
		if (!c->peers[i].is_range)
			sess_peer_new(daemon_owner(d, c->peers[i].name), c, &c->peers[i]);
	for (unsigned i = 0; i < d->nloops; i++) {
		if (pthread_create(&d->loops[i].thread, NULL, loop_thread, &d->loops[i]) != 0) {
			snprintf(err, errlen, "cannot start io thread %u", i);
			return -1;
		}
	}
	d->started = 1;
	log_info("routehubd started: AS %u, router id %u.%u.%u.%u, %zu peer entries, %u io "
	         "threads",
	         c->asn, c->router_id >> 24, (c->router_id >> 16) & 255, (c->router_id >> 8) & 255,
	         c->router_id & 255, c->npeers, d->nloops);
	return 0;
}

struct apply_ctx {
	struct rh_daemon *d;
	const struct cfg *newc;
	unsigned added, removed, restarted, updated, unchanged;
};

static void
apply_cb(enum cfg_diff_kind k, const struct cfg_peer *oldp, const struct cfg_peer *newp, void *arg)
{
	struct apply_ctx *a = arg;

	switch (k) {
	case CFG_DIFF_REMOVED:
		a->removed++;
		log_info("reload: peer %s removed", oldp->name);
		post_all(a->d, CMD_PEER_DELETE, NULL, NULL, oldp->name, BGP_ERR_CEASE_PEER_DECONF);
		break;
	case CFG_DIFF_ADDED:
		a->added++;
		log_info("reload: peer %s added", newp->name);
		post_new(a->d, a->newc, newp);
		break;
	case CFG_DIFF_RESTART:
		a->restarted++;
		log_info("reload: peer %s changed, restarting its session", newp->name);
		post_all(a->d, CMD_PEER_DELETE, NULL, NULL, oldp->name,
		         BGP_ERR_CEASE_CONFIG_CHANGE);
		post_new(a->d, a->newc, newp);
		break;
	case CFG_DIFF_UPDATE:
		a->updated++;
		post_all(a->d, CMD_PEER_UPDATE, a->newc, newp, NULL, 0);
		break;
	case CFG_DIFF_UNCHANGED:
		a->unchanged++;
		post_all(a->d, CMD_PEER_UPDATE, a->newc, newp, NULL, 0);
		break;
	}
}

struct md5_ctx {
	struct rh_daemon *d;
	const struct cfg *c;
};

static void
md5_run(void *arg)
{
	struct md5_ctx *m = arg;
	listener_keys(m->d, m->c);
	free(m);
}

/* Reloads come from the main thread (SIGHUP) and from the control API's
 * thread; one at a time, so each diff starts from the configuration the
 * previous one installed. Process-wide: reloads are rare. */
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;

static int
apply_locked(struct rh_daemon *d, struct cfg *newc)
{
	struct cfg *oldc = atomic_load_explicit(&d->cfg, memory_order_relaxed);
	struct apply_ctx a = {.d = d, .newc = newc};
	struct cfg **k;
	int g;

	k = realloc(d->kept, (d->nkept + 1) * sizeof(*k));
	if (!k) {
		cfg_free(newc);
		return -1;
	}
	d->kept = k;
	d->kept[d->nkept++] = newc;
	g = cfg_diff(oldc, newc, apply_cb, &a);
	if (g & CFG_CHG_LISTEN)
		log_warn("reload: listen addresses changed; they take effect at the next start");
	if (g & CFG_CHG_THREADS)
		log_warn("reload: thread counts changed; they take effect at the next start");
	if (g & CFG_CHG_API)
		log_warn("reload: api settings changed; they take effect at the next start");
	{
		struct md5_ctx *m = calloc(1, sizeof(*m));
		if (m) {
			m->d = d;
			m->c = newc;
			if (io_loop_post(d->loops[0].io, md5_run, m) < 0)
				free(m);
		}
	}
	/* release: the accept path sees a complete configuration. */
	atomic_store_explicit(&d->cfg, newc, memory_order_release);
	log_info("reload: %u added, %u removed, %u restarted, %u updated, %u unchanged", a.added,
	         a.removed, a.restarted, a.updated, a.unchanged);
	return 0;
}

int
daemon_apply(struct rh_daemon *d, struct cfg *newc)
{
	int r;

	pthread_mutex_lock(&reload_mu);
	r = apply_locked(d, newc);
	pthread_mutex_unlock(&reload_mu);
	return r;
}

/* Logs msg and appends it to errs (if not NULL) as a line not tied to the file. */
static void
reload_err(struct cfg_err_list *errs, const char *msg)
{
	struct cfg_err *v;

	log_error("reload refused: %s", msg);
	if (!errs)
		return;
	if (errs->n == errs->cap) {
		size_t nc = errs->cap ? errs->cap * 2 : 4;
		if (!(v = realloc(errs->v, nc * sizeof(*v))))
			return;
		errs->v = v;
		errs->cap = nc;
	}
	errs->v[errs->n] =
	    (struct cfg_err){.line = 0, .seq = (unsigned)errs->n, .msg = strdup(msg)};
	if (errs->v[errs->n].msg)
		errs->n++;
}

int
daemon_reload_errs(struct rh_daemon *d, struct cfg_err_list *out)
{
	struct cfg_err_list local, *errs = out ? out : &local;
	struct cfg *c;
	size_t first;
	int r = -1;

	pthread_mutex_lock(&reload_mu);
	if (!d->path) {
		reload_err(out,
		           "running on the embedded configuration; there is no file to re-read");
		goto done;
	}
	if (!out)
		cfg_errs_init(&local);
	first = errs->n;
	if (cfg_load(d->path, &c, errs) < 0) {
		for (size_t i = first; i < errs->n; i++)
			log_error("reload refused: %s", errs->v[i].msg);
	} else
		r = apply_locked(d, c);
	if (!out)
		cfg_errs_fini(&local);
done:
	pthread_mutex_unlock(&reload_mu);
	return r;
}

int
daemon_reload(struct rh_daemon *d)
{
	return daemon_reload_errs(d, NULL);
}

const struct cfg *
daemon_cfg(struct rh_daemon *d)
{
	/* acquire: pairs with the release store in apply_locked. */
	return atomic_load_explicit(&d->cfg, memory_order_acquire);
}

void
daemon_shutdown(struct rh_daemon *d, const char *msg, unsigned timeout_ms)
{
	struct timespec dl;

	if (!d->started)
		return;
	for (unsigned i = 0; i < d->nloops; i++) {
		struct cmd *c = cmd_new(CMD_STOP_ALL, NULL, NULL);
		if (!c)
			continue;
		snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "");
		if (post(&d->loops[i], c) < 0)
			free(c);
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->mu);
	while (d->drained < d->nloops)
		if (pthread_cond_timedwait(&d->cv, &d->mu, &dl) != 0)
			break;
	pthread_mutex_unlock(&d->mu);
	for (unsigned i = 0; i < d->nloops; i++)
		io_loop_stop(d->loops[i].io);
	for (unsigned i = 0; i < d->nloops; i++)
		pthread_join(d->loops[i].thread, NULL);
	exp_stop(d->exp);
	d->started = 0;
}

void
daemon_free(struct rh_daemon *d)
{
	struct exp *x;

	if (!d)
		return;
	/* Peers left over (a shutdown that timed out) go without the RIB. */
	x = d->exp;
	d->exp = NULL;
	exp_stop(x);
	for (unsigned i = 0; d->loops && i < d->nloops; i++) {
		struct sess_loop *sl = &d->loops[i];
		while (sl->peers)
			sess_peer_delete(sl->peers, BGP_ERR_CEASE_ADMIN_SHUTDOWN, NULL);
		if (sl->io)
			io_loop_free(sl->io);
	}
	exp_free(x);
	attr_fini();
	free(d->loops);
	free(d->lst);
	for (size_t i = 0; i < d->nkept; i++)
		cfg_free(d->kept[i]);
	free(d->kept);
	free(d->path);
	if (d->keepalive)
		io_buf_unref(d->keepalive);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

void
daemon_stats(const struct rh_daemon *d, struct daemon_stats *st)
{
	st->accepted = atomic_load_explicit(&d->accepted, memory_order_relaxed);
	st->refused_unknown = atomic_load_explicit(&d->refused_unknown, memory_order_relaxed);
}

/* ---- snapshots ------------------------------------------------------------------------ */

struct snap {
	struct rh_daemon *d;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned pending;
	struct daemon_peer_info *v;
	size_t n, cap;
	int refs; /* the waiter and each loop; the last one frees */
};

static void
snap_unref(struct snap *s)
{
	/* called with s->mu held; unlocks it */
	int last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s->v);
		free(s);
	}
}

static void
snap_fill(struct daemon_peer_info *i, const struct peer *p)
{
	const struct bconn *b = p->conn[0];
	const struct fsm_nego *n = NULL;

	memset(i, 0, sizeof(*i));
	snprintf(i->name, sizeof(i->name), "%s", p->cp->name);
	snprintf(i->address, sizeof(i->address), "%s", p->addrstr);
	snprintf(i->role, sizeof(i->role), "%s", cfg_role_name(p->cp->role));
	snprintf(i->state, sizeof(i->state), "%s", sess_peer_state_name(p));
	snprintf(i->last_error, sizeof(i->last_error), "%s", p->last_error);
	i->asn = p->cp->asn_any ? 0 : p->cp->asn;
	for (int k = 0; k < 2; k++)
		if (p->conn[k] && p->conn[k]->fsm.state >= FSM_ST_OPENCONFIRM)
			b = p->conn[k];
	if (b && b->fsm.state >= FSM_ST_OPENCONFIRM)
		n = &b->fsm.nego;
	if (n) {
		i->peer_asn = n->peer_as;
		i->peer_id = n->peer_id;
		i->hold_time = n->hold_time;
		i->keepalive = n->keepalive;
		i->caps = (n->sess.as4 ? BGP_CAPF_AS4 : 0) |
		          (n->sess.ext_msg ? BGP_CAPF_EXTMSG : 0) |
		          (n->rrefresh ? BGP_CAPF_RREFRESH : 0) |
		          (n->enh_rrefresh ? BGP_CAPF_ERR : 0) | (n->gr ? BGP_CAPF_GR : 0);
	}
	i->dynamic = p->dynamic;
	i->ibgp = p->cp->ibgp;
	i->uptime_ms = p->up_since_ms ? io_now_ms() - p->up_since_ms : 0;
	i->msgs_in = p->st.msgs_in;
	i->msgs_out = p->st.msgs_out;
	i->updates_in = p->st.updates_in;
	i->prefixes_announced = p->st.prefixes_announced;
	i->prefixes_withdrawn = p->st.prefixes_withdrawn;
	i->treat_as_withdraw = p->st.treat_as_withdraw;
	i->attr_discards = p->st.attr_discards;
	i->eor_in = p->st.eor_in;
	i->refresh_in = p->st.refresh_in;
	i->established = p->st.established;
	i->flaps = p->st.flaps;
	i->rib_id = p->exp.id;
	/* Counted when the peer has a limit (and is up, or has nothing). */
	i->routes_counted = p->cp->max_routes && (p->exp.held || !p->exp.id);
	i->routes_held = p->exp.routes;
}

static void
snap_run(void *arg)
{
	struct snap *s = arg;
	struct sess_loop *sl = NULL;

	/* Which loop are we? The one whose thread runs this. */
	for (unsigned k = 0; k < s->d->nloops; k++)
		if (pthread_equal(s->d->loops[k].thread, pthread_self()))
			sl = &s->d->loops[k];
	pthread_mutex_lock(&s->mu);
	if (sl) {
		for (struct peer *p = sl->peers; p; p = p->next) {
			if (s->n == s->cap) {
				size_t nc = s->cap ? s->cap * 2 : 64;
				struct daemon_peer_info *nv = realloc(s->v, nc * sizeof(*nv));
				if (!nv)
					break;
				s->v = nv;
				s->cap = nc;
			}
			snap_fill(&s->v[s->n++], p);
		}
	}
	s->pending--;
	pthread_cond_signal(&s->cv);
	snap_unref(s);
}

int
daemon_peers(struct rh_daemon *d, struct daemon_peer_info **out, size_t *n, unsigned timeout_ms)
{
	struct snap *s = calloc(1, sizeof(*s));
	struct timespec dl;
	int r = 0;

	if (!s || !d->started) {
		free(s);
		return -1;
	}
	s->d = d;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->refs = 1;
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < d->nloops; i++) {
		s->refs++;
		s->pending++;
		if (io_loop_post(d->loops[i].io, snap_run, s) < 0) {
			s->refs--;
			s->pending--;
		}
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	while (s->pending > 0)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)
			break;
	if (s->pending > 0) {
		r = -1;
	} else {
		*out = s->v;
		*n = s->n;
		s->v = NULL;
	}
	snap_unref(s);
	return r;
}

int
daemon_peer_reset(struct rh_daemon *d, const char *name, const char *address,
                  enum daemon_reset mode, const char *msg)
{
	struct cfg_addr a;

	memset(&a, 0, sizeof(a));
	if (address && cfg_addr_parse(address, &a) < 0)
		return -1;
	if (!address && !name)
		return -1;
	for (unsigned i = 0; i < d->nloops; i++) {
		struct cmd *c = cmd_new(CMD_RESET, NULL, NULL);
		if (!c)
			return -1;
		c->name = name ? strdup(name) : NULL;
		c->addr = a;
		c->mode = (int)mode;
		snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "");
		if (post(&d->loops[i], c) < 0) {
			free(c->name);
			free(c);
			return -1;
		}
	}
	return 0;
}
