/*
 * main.c — routehub-loadgen: build the workload, start the I/O threads, run
 * the phases and measure them.
 *
 * The main thread owns the phase list, the per-feeder "held" flags (which
 * feeders' routes the route server is meant to hold) and the published
 * expectation (lg_expect). It never touches a session: it posts commands to
 * the workers and waits on an eventfd they signal, scanning atomics (spokes'
 * done generation, established counts, queued streams) with a bound on every
 * wait. Measurements are taken by the workers (timestamps where things
 * happen); the main thread only collects them.
 *
 * Exit status: 0 every phase converged to the expected routes and digests;
 * 1 routes were lost or wrong, or a session failed; 2 a phase timed out;
 * 3 bad usage or setup.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lg.h"

enum {
	EXIT_OK = 0,
	EXIT_WRONG = 1,
	EXIT_TIMEOUT = 2,
	EXIT_SETUP = 3,
};

enum wait_what {
	W_ESTABLISHED = 1 << 0, /* n_est == the sessions expected up */
	W_FLUSHED = 1 << 1,     /* commands handled, queued streams written */
	W_SPOKES = 1 << 2,      /* every spoke reached the expectation */
	W_CHURN = 1 << 3,       /* churn over and quiet */
	W_ACKED = 1 << 4,
};

struct waitspec {
	unsigned what;
	uint32_t est_feeders, est_spokes;
	const uint8_t *spokes; /* W_SPOKES: only these (NULL = all) */
	uint64_t deadline;
	uint64_t until; /* pause: return 0 at this time */
};

struct ctx {
	struct lg_opts o;
	struct lg_model m;
	struct lg_run r;
	uint8_t *held;           /* per feeder: its routes are meant to be in the route server */
	uint8_t *up;             /* per feeder: its session is meant to be established */
	struct waitspec last_ws; /* of the phase that failed, for explain_timeout */
	uint32_t bad_spoke;
	uint8_t *fsel, *ssel, *all_f, *all_s;
	uint64_t epoch;
	struct lg_result *res;
	int code;
	char err[600];
};

static double
secs(uint64_t ns)
{
	return (double)ns * 1e-9;
}

static int
raise_nofile(uint64_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need) {
		fprintf(stderr,
		        "routehub-loadgen: needs %" PRIu64 " file descriptors, the limit is "
		        "%llu (ulimit -n)\n",
		        need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

/* ---- the expectation --------------------------------------------------------------- */
static void
publish(struct ctx *c, enum lg_exp_mode mode, uint32_t phase, const uint8_t *ssel)
{
	struct lg_expect *x = &c->m.exp;
	uint32_t gen = atomic_load_explicit(&x->gen, memory_order_relaxed), present, ni = 0;
	unsigned b = lg_gen_buf(gen + 2);
	uint64_t digest;

	lg_expect_compute(&c->m, c->held, &present, &digest);
	if (c->o.expect_corrupt == LG_CORRUPT_DIGEST)
		digest++;
	else if (c->o.expect_corrupt == LG_CORRUPT_COUNT)
		present++;
	/* Seqlock write (lg.h): odd generation, fence, fields, even generation. */
	atomic_store_explicit(&x->gen, gen + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd gen before the fields */
	atomic_store_explicit(&x->mode, mode, memory_order_relaxed);
	atomic_store_explicit(&x->present, present, memory_order_relaxed);
	atomic_store_explicit(&x->digest, digest, memory_order_relaxed);
	atomic_store_explicit(&x->phase, phase, memory_order_relaxed);
	for (uint32_t f = 0; f < c->m.n_feeders; f++)
		if (!c->held[f])
			atomic_store_explicit(&x->inactive[b][ni++], f, memory_order_relaxed);
	atomic_store_explicit(&x->n_inactive[b], ni, memory_order_relaxed);
	for (uint32_t s = 0; s < c->m.n_spokes; s++)
		atomic_store_explicit(&x->ssel[b][s], ssel ? ssel[s] : 0, memory_order_relaxed);
	/* Release: the fields before the even generation that vouches for them. */
	atomic_store_explicit(&x->gen, gen + 2, memory_order_release);
	for (uint32_t f = 0; f < c->m.n_feeders; f++)
		atomic_store_explicit(&c->m.feeders[f].announced, c->held[f], memory_order_relaxed);
}

/* ---- waiting ------------------------------------------------------------------------- */
static bool
fatal(struct ctx *c)
{
	return atomic_load_explicit(&c->r.n_fatal, memory_order_acquire) != 0;
}

static bool
spokes_done(struct ctx *c, const uint8_t *only)
{
	uint32_t gen = atomic_load_explicit(&c->m.exp.gen, memory_order_relaxed);

	for (uint32_t i = 0; i < c->m.n_spokes; i++) {
		if (only && !only[i])
			continue;
		if (atomic_load_explicit(&c->r.spokes[i].sp->done_gen, memory_order_acquire) != gen)
			return false;
	}
	return true;
}

static uint32_t
churn_active(struct ctx *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->r.nw; i++)
		n += atomic_load_explicit(&c->r.w[i].churn_active, memory_order_relaxed);
	return n;
}

static uint64_t
last_stamp(struct ctx *c)
{
	uint64_t t = 0;

	for (uint32_t i = 0; i < c->r.nw; i++) {
		uint64_t v = atomic_load_explicit(&c->r.w[i].last_stamp_rx, memory_order_relaxed);
		t = v > t ? v : t;
	}
	return t;
}

static uint64_t
last_spoke_rx(struct ctx *c)
{
	uint64_t t = 0;

	for (uint32_t i = 0; i < c->r.nw; i++) {
		uint64_t v = atomic_load_explicit(&c->r.w[i].last_spoke_rx, memory_order_relaxed);
		t = v > t ? v : t;
	}
	return t;
}

/* No event since `last` for s seconds, as of `now` (which a worker's
 * clock reading may have passed: then it is not quiet). */
static bool
quiet_for(uint64_t now, uint64_t last, double s)
{
	return last <= now && now - last >= (uint64_t)(s * 1e9);
}

static bool
cond(struct ctx *c, const struct waitspec *ws, uint64_t now)
{
	if (ws->until)
		return now >= ws->until;
	if ((ws->what & (W_ACKED | W_FLUSHED | W_CHURN)) && !lg_cmd_acked(&c->r))
		return false;
	if ((ws->what & W_ESTABLISHED) &&
	    (atomic_load_explicit(&c->r.n_est[LG_ROLE_FEEDER], memory_order_relaxed) !=
	         ws->est_feeders ||
	     atomic_load_explicit(&c->r.n_est[LG_ROLE_SPOKE], memory_order_relaxed) !=
	         ws->est_spokes))
		return false;
	if ((ws->what & W_FLUSHED) &&
	    atomic_load_explicit(&c->r.flush_pending, memory_order_acquire) > 0)
		return false;
	if ((ws->what & W_CHURN)) {
		/* Quiet: no timestamped route for 500 ms after the churn ended. */
		if (churn_active(c) || (c->m.n_spokes && !quiet_for(now, last_stamp(c), 0.5)))
			return false;
	}
	if ((ws->what & W_SPOKES) && !spokes_done(c, ws->spokes))
		return false;
	/* Settled: no spoke read anything for --settle, and all still match. */
	if ((ws->what & W_SPOKES) && c->m.n_spokes &&
	    !quiet_for(now, last_spoke_rx(c), c->o.settle))
		return false;
	return true;
}

/* A spoke that received a wrong route: the run fails now, not at the
 * timeout (unless --ignore-unknown, and then only for wrong routes of
 * workload prefixes, which lg_spoke_update does not count as unknown). */
static int
any_corrupt(struct ctx *c, uint32_t *which)
{
	for (uint32_t i = 0; i < c->m.n_spokes; i++) {
		if (atomic_load_explicit(&c->r.spokes[i].sp->n_corrupt_total,
		                         memory_order_relaxed)) {
			*which = i;
			return 1;
		}
	}
	return 0;
}

/* 0 when the condition holds, 1 on timeout, -1 on a fatal error, -3 when a
 * spoke received a wrong route. */
static int
wait_for(struct ctx *c, const struct waitspec *ws)
{
	struct pollfd pfd = {.fd = c->r.mainfd, .events = POLLIN};
	uint32_t bad;

	for (;;) {
		uint64_t now = lg_now(), v;
		int ms;
		if (fatal(c))
			return -1;
		if (any_corrupt(c, &bad)) {
			c->bad_spoke = bad;
			return -3;
		}
		if (cond(c, ws, now))
			return 0;
		if (now >= ws->deadline)
			return 1;
		ms = (int)((ws->deadline - now) / 1000000) + 1;
		if (ms > 50)
			ms = 50; /* also re-evaluate quiet periods */
		if (poll(&pfd, 1, ms) > 0 && read(c->r.mainfd, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			return -1;
	}
}

/* ---- measurement ------------------------------------------------------------------------ */
struct totals {
	uint64_t tx_msgs, tx_updates, tx_pfx, tx_bytes, rx_msgs, rx_updates, rx_pfx, rx_bytes;
	uint64_t rx_shared;
	uint64_t busy[LG_MAX_THREADS];
	uint64_t skipped;
};

static void
totals_get(struct ctx *c, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < c->r.nw; i++) {
		const struct lg_worker *w = &c->r.w[i];
		/* Client sessions, or in self-test the feeder side of the mirror
		 * for what was received, so that counts mean the same thing. */
		for (int role = LG_ROLE_FEEDER; role <= LG_ROLE_SPOKE; role++) {
			const struct lg_counters *k = &w->c[role];
			if (role == LG_ROLE_FEEDER) {
				t->tx_msgs +=
				    atomic_load_explicit(&k->tx_msgs, memory_order_relaxed);
				t->tx_updates +=
				    atomic_load_explicit(&k->tx_updates, memory_order_relaxed);
				t->tx_pfx += atomic_load_explicit(&k->tx_pfx, memory_order_relaxed);
				t->tx_bytes +=
				    atomic_load_explicit(&k->tx_bytes, memory_order_relaxed);
			} else {
				t->rx_msgs +=
				    atomic_load_explicit(&k->rx_msgs, memory_order_relaxed);
				t->rx_updates +=
				    atomic_load_explicit(&k->rx_updates, memory_order_relaxed);
				t->rx_pfx += atomic_load_explicit(&k->rx_pfx, memory_order_relaxed);
				t->rx_bytes +=
				    atomic_load_explicit(&k->rx_bytes, memory_order_relaxed);
			}
		}
		t->rx_shared += atomic_load_explicit(&w->rx_cached, memory_order_relaxed);
		t->busy[i] = atomic_load_explicit(&w->busy_ns, memory_order_relaxed);
		t->skipped += atomic_load_explicit(&w->churn_skipped, memory_order_relaxed);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
measure(struct ctx *c, struct lg_result *res, uint64_t t_start, uint64_t t_end,
        const struct totals *t0, const uint8_t *only, bool spokes_waited)
{
	struct totals t1;
	uint64_t t_ref = 0, t_flush = 0;
	double *v = NULL;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->r.nw; i++) {
		uint64_t x = atomic_load_explicit(&c->r.w[i].t_first_tx, memory_order_relaxed);
		if (x && (!t_ref || x < t_ref))
			t_ref = x;
	}
	if (!t_ref)
		t_ref = t_start;
	res->start = secs(t_start - c->epoch);
	res->dur = secs(t_end - t_start);
	res->first_tx = secs(t_ref - t_start);
	/* When the feeders' streams were written out (owner-written, read
	 * after the flush count reached zero: see sess.c). */
	for (uint32_t i = 0; i < c->m.n_feeders; i++) {
		uint64_t x = c->r.feeders[i].t_flushed;
		if (x > t_flush && x >= t_start)
			t_flush = x;
	}
	res->send_done = t_flush > t_ref ? secs(t_flush - t_ref) : 0;
	res->n_spokes = 0;
	if (spokes_waited && c->m.n_spokes) {
		v = malloc(c->m.n_spokes * sizeof(*v));
		for (uint32_t i = 0; v && i < c->m.n_spokes; i++) {
			const struct lg_spoke *sp = c->r.spokes[i].sp;
			uint32_t gen = atomic_load_explicit(&c->m.exp.gen, memory_order_relaxed);
			if (only && !only[i])
				continue;
			res->n_spokes++;
			if (atomic_load_explicit(&sp->done_gen, memory_order_acquire) != gen)
				continue;
			v[n++] = sp->done_ns > t_ref ? secs(sp->done_ns - t_ref) : 0;
		}
		res->spokes_done = n;
		if (n) {
			qsort(v, n, sizeof(*v), cmp_double);
			res->sp_p50 = v[(n - 1) / 2];
			res->sp_p99 = v[(size_t)((n - 1) * 0.99)];
			res->sp_max = v[n - 1];
			res->conv = res->sp_max;
		}
		free(v);
	}
	{
		uint64_t l = last_spoke_rx(c);
		res->rx_span = l > t_ref && l <= t_end ? secs(l - t_ref) : 0;
	}
	res->expect_present = atomic_load_explicit(&c->m.exp.present, memory_order_relaxed);
	res->expect_digest = atomic_load_explicit(&c->m.exp.digest, memory_order_relaxed);
	totals_get(c, &t1);
	res->tx_msgs = t1.tx_msgs - t0->tx_msgs;
	res->tx_updates = t1.tx_updates - t0->tx_updates;
	res->tx_pfx = t1.tx_pfx - t0->tx_pfx;
	res->tx_bytes = t1.tx_bytes - t0->tx_bytes;
	res->rx_msgs = t1.rx_msgs - t0->rx_msgs;
	res->rx_updates = t1.rx_updates - t0->rx_updates;
	res->rx_pfx = t1.rx_pfx - t0->rx_pfx;
	res->rx_bytes = t1.rx_bytes - t0->rx_bytes;
	res->rx_shared = t1.rx_shared - t0->rx_shared;
	res->churn_skipped = t1.skipped - t0->skipped;
	res->n_busy = c->r.nw;
	for (uint32_t i = 0; i < c->r.nw; i++) {
		/* A loop turn that began before the phase counts whole: clamp. */
		res->busy[i] = t_end > t_start
		                   ? (double)(t1.busy[i] - t0->busy[i]) / (double)(t_end - t_start)
		                   : 0;
		if (res->busy[i] > 1)
			res->busy[i] = 1;
		if (!c->r.w[i].mirror)
			res->cpu_s += secs(t1.busy[i] - t0->busy[i]);
	}
}

/* Every spoke's digest and corruption counters against the expectation. */
static int
verify(struct ctx *c, struct lg_result *res, const uint8_t *only)
{
	uint64_t want = atomic_load_explicit(&c->m.exp.digest, memory_order_relaxed);

	for (uint32_t i = 0; i < c->m.n_spokes; i++) {
		const struct lg_spoke *sp = c->r.spokes[i].sp;
		uint64_t d = atomic_load_explicit(&sp->digest, memory_order_relaxed);
		uint64_t bad = atomic_load_explicit(&sp->n_corrupt_total, memory_order_relaxed);
		if (only && !only[i])
			continue;
		if (bad) {
			snprintf(res->note, sizeof(res->note),
			         "spoke %u received %" PRIu64 " wrong routes (see stderr)", i, bad);
			return -1;
		}
		if (d != want) {
			snprintf(res->note, sizeof(res->note),
			         "spoke %u: digest %016" PRIx64 ", expected %016" PRIx64
			         " (%u routes held, %u expected)",
			         i, d, want,
			         atomic_load_explicit(&sp->n_present, memory_order_relaxed),
			         atomic_load_explicit(&c->m.exp.present, memory_order_relaxed));
			return -1;
		}
	}
	return 0;
}

/* What is missing, for a phase that timed out. */
static void
explain_timeout(struct ctx *c, struct lg_result *res, const struct waitspec *ws)
{
	char *p = res->note;
	size_t cap = sizeof(res->note), l;
	uint32_t shown = 0, gen = atomic_load_explicit(&c->m.exp.gen, memory_order_relaxed);
	uint32_t want = atomic_load_explicit(&c->m.exp.present, memory_order_relaxed);

	l = (size_t)snprintf(p, cap, "timed out after %g s:", c->o.timeout);
	if (ws->what & W_ESTABLISHED) {
		l += (size_t)snprintf(
		    p + l, cap - l, " established %u/%u feeders, %u/%u spokes;",
		    atomic_load_explicit(&c->r.n_est[LG_ROLE_FEEDER], memory_order_relaxed),
		    ws->est_feeders,
		    atomic_load_explicit(&c->r.n_est[LG_ROLE_SPOKE], memory_order_relaxed),
		    ws->est_spokes);
	}
	if (ws->what & W_FLUSHED) {
		int32_t fp = atomic_load_explicit(&c->r.flush_pending, memory_order_relaxed);
		if (fp > 0)
			l += (size_t)snprintf(p + l, cap - l, " %d feeders still sending;", fp);
	}
	if (ws->what & W_SPOKES) {
		uint32_t missing = 0;
		for (uint32_t i = 0; i < c->m.n_spokes; i++)
			if ((!ws->spokes || ws->spokes[i]) &&
			    atomic_load_explicit(&c->r.spokes[i].sp->done_gen,
			                         memory_order_relaxed) != gen)
				missing++;
		if (missing)
			l += (size_t)snprintf(p + l, cap - l,
			                      " %u spokes incomplete, expecting %u "
			                      "routes each:",
			                      missing, want);
	}
	if (l >= cap)
		return;
	/* Details on stderr, the first few of each kind. */
	for (uint32_t i = 0; i < c->m.n_spokes && shown < 5 && (ws->what & W_SPOKES); i++) {
		const struct lg_spoke *sp = c->r.spokes[i].sp;
		uint64_t stale = 0;
		if ((ws->spokes && !ws->spokes[i]) ||
		    atomic_load_explicit(&sp->done_gen, memory_order_relaxed) == gen)
			continue;
		for (uint32_t f = 0; f < c->m.n_feeders; f++)
			if (!c->held[f])
				stale += sp->cnt_from[f];
		fprintf(stderr,
		        "routehub-loadgen:   spoke %u: %u/%u routes, %u extra, %u outdated, "
		        "%u wrong, %" PRIu64 " unknown, %" PRIu64 " still from withdrawn "
		        "feeders, %" PRIu64 " announcements received; session %s\n",
		        i, atomic_load_explicit(&sp->n_present, memory_order_relaxed), want,
		        atomic_load_explicit(&sp->n_extra, memory_order_relaxed),
		        atomic_load_explicit(&sp->n_old, memory_order_relaxed),
		        atomic_load_explicit(&sp->n_corrupt, memory_order_relaxed),
		        atomic_load_explicit(&sp->n_unknown, memory_order_relaxed), stale,
		        atomic_load_explicit(&sp->n_ann, memory_order_relaxed),
		        c->r.spokes[i].state == LG_S_ESTABLISHED ? "established"
		                                                 : "not established");
		shown++;
	}
	shown = 0;
	for (int role = LG_ROLE_FEEDER; role <= LG_ROLE_SPOKE && (ws->what & W_ESTABLISHED);
	     role++) {
		struct lg_sess *v = role == LG_ROLE_FEEDER ? c->r.feeders : c->r.spokes;
		uint32_t n = role == LG_ROLE_FEEDER ? c->m.n_feeders : c->m.n_spokes;
		for (uint32_t i = 0; i < n && shown < 5; i++) {
			char a[32];
			if (v[i].state == LG_S_ESTABLISHED || v[i].want_down)
				continue;
			lg_addr_str(v[i].addr, a, sizeof(a));
			fprintf(stderr,
			        "routehub-loadgen:   %s %u (%s, AS%u): not established after "
			        "%u attempts; last error: %s\n",
			        lg_role_name((enum lg_role)role), i, a, v[i].asn, v[i].retries + 1,
			        v[i].last_err[0] ? v[i].last_err : "none (no answer)");
			shown++;
		}
	}
}

/* ---- phases ------------------------------------------------------------------------------ */
static void
reset_first_tx(struct ctx *c)
{
	for (uint32_t i = 0; i < c->r.nw; i++)
		atomic_store_explicit(&c->r.w[i].t_first_tx, 0, memory_order_relaxed);
}

/* Feeders meant to be up once the selected ones go down or up. */
static uint32_t
est_feeders_after(struct ctx *c, const uint8_t *down, const uint8_t *up)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->m.n_feeders; i++) {
		if (down && down[i])
			c->up[i] = 0;
		if (up && up[i])
			c->up[i] = 1;
		n += c->up[i];
	}
	return n;
}

static int
run_phase(struct ctx *c, size_t pi)
{
	const struct lg_phase *ph = &c->o.phases[pi];
	struct lg_result *res = &c->res[pi];
	struct lg_cmd cmd = {0};
	struct waitspec ws = {0};
	struct totals t0;
	uint64_t t_start;
	const uint8_t *only = NULL;
	bool spokes_waited = false;
	int rc = 0;

	res->ph = ph;
	res->ran = true;
	memset(c->fsel, 0, c->m.n_feeders + 1);
	memset(c->ssel, 0, c->m.n_spokes + 1);
	if (ph->kind == LG_PH_REFRESH)
		lg_sel_parse(ph->sel, c->m.n_spokes, c->ssel);
	else
		lg_sel_parse(ph->sel, c->m.n_feeders, c->fsel);
	totals_get(c, &t0);
	reset_first_tx(c);
	t_start = lg_now();
	ws.deadline = t_start + (uint64_t)(c->o.timeout * 1e9);
	cmd.fsel = c->fsel;
	cmd.ssel = c->ssel;

	switch (ph->kind) {
	case LG_PH_ESTABLISH:
		memset(c->ssel, 1, c->m.n_spokes);
		publish(c, LG_EXP_ROUTES, (uint32_t)pi, NULL);
		cmd.kind = LG_CMD_CONNECT;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_ESTABLISHED | W_ACKED;
		ws.est_feeders = est_feeders_after(c, NULL, c->fsel);
		ws.est_spokes = c->m.n_spokes;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_ANNOUNCE:
	case LG_PH_WITHDRAW:
		for (uint32_t i = 0; i < c->m.n_feeders; i++)
			if (c->fsel[i])
				c->held[i] = ph->kind == LG_PH_ANNOUNCE && c->up[i];
		publish(c, LG_EXP_ROUTES, (uint32_t)pi, NULL);
		cmd.kind = ph->kind == LG_PH_ANNOUNCE ? LG_CMD_ANNOUNCE : LG_CMD_WITHDRAW;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_FLUSHED | W_SPOKES;
		spokes_waited = true;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_EOR:
		memset(c->ssel, 1, c->m.n_spokes);
		cmd.kind = LG_CMD_EOR;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_FLUSHED;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_CHURN: {
		uint32_t n = 0;
		for (uint32_t i = 0; i < c->m.n_feeders; i++)
			if (c->fsel[i] && c->held[i] && c->m.feeders[i].churn.n)
				n++;
			else
				c->fsel[i] = 0;
		if (!n) {
			snprintf(res->note, sizeof(res->note), "no feeder holds routes to churn");
			rc = -2;
			break;
		}
		publish(c, LG_EXP_ROUTES, (uint32_t)pi, NULL);
		cmd.kind = LG_CMD_CHURN;
		cmd.rate = ph->rate / ph->batch / n; /* UPDATEs per second per feeder */
		cmd.duration = ph->duration;
		cmd.t0 = lg_now();
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_CHURN | W_SPOKES;
		ws.deadline += (uint64_t)(ph->duration * 1e9);
		spokes_waited = true;
		rc = wait_for(c, &ws);
		break;
	}
	case LG_PH_RESET:
		for (uint32_t i = 0; i < c->m.n_feeders; i++)
			if (c->fsel[i])
				c->held[i] = 0;
		publish(c, LG_EXP_ROUTES, (uint32_t)pi, NULL);
		cmd.kind = LG_CMD_RESET;
		cmd.tcp = ph->tcp;
		ws.est_feeders = est_feeders_after(c, c->fsel, NULL);
		ws.est_spokes = c->m.n_spokes;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_ACKED | W_ESTABLISHED | W_SPOKES;
		spokes_waited = true;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_RECONNECT:
		cmd.kind = LG_CMD_CONNECT;
		ws.what = W_ESTABLISHED | W_ACKED;
		ws.est_feeders = est_feeders_after(c, NULL, c->fsel);
		ws.est_spokes = c->m.n_spokes;
		lg_cmd_post(&c->r, &cmd);
		rc = wait_for(c, &ws);
		if (rc)
			break;
		for (uint32_t i = 0; i < c->m.n_feeders; i++)
			if (c->fsel[i])
				c->held[i] = 1;
		publish(c, LG_EXP_ROUTES, (uint32_t)pi, NULL);
		reset_first_tx(c);
		cmd.kind = LG_CMD_ANNOUNCE;
		lg_cmd_post(&c->r, &cmd);
		cmd.kind = LG_CMD_EOR;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_FLUSHED | W_SPOKES;
		spokes_waited = true;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_REFRESH:
		publish(c, LG_EXP_REFRESH, (uint32_t)pi, c->ssel);
		cmd.kind = LG_CMD_REFRESH;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_ACKED | W_SPOKES;
		ws.spokes = only = c->ssel;
		spokes_waited = true;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_WAIT:
		publish(c, LG_EXP_ROUTES, (uint32_t)pi, NULL);
		cmd.kind = LG_CMD_CHECK;
		lg_cmd_post(&c->r, &cmd);
		ws.what = W_ACKED | W_SPOKES;
		spokes_waited = true;
		rc = wait_for(c, &ws);
		break;
	case LG_PH_PAUSE:
		ws.until = t_start + (uint64_t)(ph->duration * 1e9);
		ws.deadline = ws.until + 1;
		rc = wait_for(c, &ws);
		break;
	default:
		rc = -2;
		break;
	}
	measure(c, res, t_start, lg_now(), &t0, only, spokes_waited);
	c->last_ws = ws;
	if (rc == 1) {
		/* explained once the workers are stopped (main) */
		res->timed_out = true;
		c->code = EXIT_TIMEOUT;
		return -1;
	}
	if (rc == -1) {
		snprintf(res->note, sizeof(res->note), "%s", c->r.fatal);
		c->code = EXIT_WRONG;
		return -1;
	}
	if (rc == -2) {
		c->code = EXIT_SETUP;
		return -1;
	}
	if (rc == -3) {
		const struct lg_spoke *sp = c->r.spokes[c->bad_spoke].sp;
		snprintf(res->note, sizeof(res->note),
		         "spoke %u received %" PRIu64 " wrong routes "
		         "(%s; see stderr)",
		         c->bad_spoke,
		         atomic_load_explicit(&sp->n_corrupt_total, memory_order_relaxed),
		         c->o.ibgp_feeders ? "next hop, AS path, LOCAL_PREF, ORIGINATOR_ID or "
		                             "CLUSTER_LIST not as the route reflector must pass on "
		                             "the announcing feeder's"
		                           : "next hop or AS path not the announcing feeder's");
		c->code = EXIT_WRONG;
		return -1;
	}
	if (spokes_waited && verify(c, res, only) < 0) {
		c->code = EXIT_WRONG;
		return -1;
	}
	res->ok = true;
	return 0;
}

static int
dump_peers(const struct ctx *c, const char *path)
{
	FILE *f = fopen(path, "w");
	char a[32];

	if (!f) {
		fprintf(stderr, "routehub-loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# role index address asn (routehub-loadgen)\n");
	for (uint32_t i = 0; i < c->m.n_feeders; i++) {
		lg_addr_str(c->r.feeders[i].addr, a, sizeof(a));
		fprintf(f, "feeder %u %s %u\n", i, a, c->r.feeders[i].asn);
	}
	for (uint32_t i = 0; i < c->m.n_spokes; i++) {
		lg_addr_str(c->r.spokes[i].addr, a, sizeof(a));
		fprintf(f, "spoke %u %s %u\n", i, a, c->r.spokes[i].asn);
	}
	return fclose(f);
}

int
main(int argc, char **argv)
{
	static struct ctx c;
	uint64_t t;
	double encode_s;
	size_t ran = 0;
	bool ok;
	FILE *jf;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (lg_opts_parse(&c.o, argc, argv) < 0)
		return EXIT_SETUP;
	if (raise_nofile((uint64_t)(c.o.n_feeders + c.o.n_spokes) * (c.o.self_test ? 2 : 1) + 64) <
	    0)
		return EXIT_SETUP;
	t = lg_now();
	if (lg_model_init(&c.m, &c.o) < 0 ||
	    (c.o.replay ? lg_model_replay(&c.m) : lg_model_synth(&c.m)) < 0 ||
	    lg_model_encode(&c.m) < 0) {
		fprintf(stderr, "routehub-loadgen: building the workload failed\n");
		return EXIT_SETUP;
	}
	encode_s = secs(lg_now() - t);
	c.held = calloc(c.m.n_feeders + 1, 1);
	c.up = calloc(c.m.n_feeders + 1, 1);
	c.fsel = calloc(c.m.n_feeders + 1, 1);
	c.ssel = calloc(c.m.n_spokes + 1, 1);
	c.res = calloc(c.o.n_phases, sizeof(*c.res));
	for (int b = 0; b < 2; b++) {
		c.m.exp.inactive[b] = calloc(c.m.n_feeders + 1, sizeof(*c.m.exp.inactive[b]));
		c.m.exp.ssel[b] = calloc(c.m.n_spokes + 1, sizeof(*c.m.exp.ssel[b]));
		if (!c.m.exp.inactive[b] || !c.m.exp.ssel[b])
			return EXIT_SETUP;
	}
	if (!c.held || !c.up || !c.fsel || !c.ssel || !c.res)
		return EXIT_SETUP;
	c.r.m = &c.m;
	c.r.o = &c.o;
	if (lg_run_start(&c.r) < 0) {
		fprintf(stderr, "routehub-loadgen: starting the I/O threads failed\n");
		return EXIT_SETUP;
	}
	if (c.o.dump_peers && dump_peers(&c, c.o.dump_peers) < 0)
		return EXIT_SETUP;
	if (!c.o.quiet) {
		char a[32];
		lg_addr_str(c.r.target_addr, a, sizeof(a));
		printf("routehub-loadgen: %s %s:%u, %u feeders, %u spokes, %u prefixes "
		       "(%u attribute sets), encoded in %.2f s\n",
		       c.o.self_test ? "self-test, mirror on" : "target", a, c.r.target_port,
		       c.m.n_feeders, c.m.n_spokes, c.m.tab.n, c.m.n_asets, encode_s);
	}
	c.epoch = lg_now();
	for (size_t i = 0; i < c.o.n_phases; i++) {
		ran = i + 1;
		if (run_phase(&c, i) < 0)
			break;
		if (c.o.verbose)
			fprintf(stderr,
			        "routehub-loadgen: phase %s done in %.3f s (last UPDATE at a "
			        "spoke %.3f s ago, last timestamp %.3f s ago)\n",
			        c.o.phases[i].text, c.res[i].dur,
			        secs(lg_now() - last_spoke_rx(&c)),
			        secs(lg_now() - last_stamp(&c)));
	}
	lg_run_stop(&c.r);
	/* Latency histograms are the workers': merged once they stopped. */
	for (size_t i = 0; i < ran; i++) {
		struct lg_hist *h = calloc(1, sizeof(*h));
		if (!h)
			break;
		for (uint32_t k = 0; k < c.r.nw; k++)
			lg_hist_merge(h, &c.r.w[k].lat[i]);
		c.res[i].lat_n = h->n;
		c.res[i].lat_p50 = (double)lg_hist_pct(h, 50) * 1e-6;
		c.res[i].lat_p99 = (double)lg_hist_pct(h, 99) * 1e-6;
		c.res[i].lat_max = (double)h->max * 1e-6;
		free(h);
	}
	ok = c.code == EXIT_OK;
	if (!ok) {
		struct lg_result *r = &c.res[ran - 1];
		if (r->timed_out)
			explain_timeout(&c, r, &c.last_ws);
		snprintf(c.err, sizeof(c.err), "phase %zu (%.96s): %.480s", ran,
		         c.o.phases[ran - 1].text, r->note);
		fprintf(stderr, "routehub-loadgen: FAILED: %s\n", c.err);
	}
	if (!c.o.quiet)
		lg_report_table(stdout, &c.o, &c.m, c.res, ran, encode_s);
	lg_report_ceiling(stdout, &c.o, c.res, ran);
	jf = c.o.json_path ? fopen(c.o.json_path, "w") : stdout;
	if (!jf) {
		fprintf(stderr, "routehub-loadgen: %s: %s\n", c.o.json_path, strerror(errno));
	} else {
		lg_report_json(jf, &c.o, &c.m, c.res, ran, ok, c.code, ok ? NULL : c.err, encode_s);
		if (jf != stdout)
			fclose(jf);
	}
	if (ok && c.o.save_ceiling && c.o.self_test) {
		FILE *sf = fopen(c.o.save_ceiling, "w");
		if (sf) {
			lg_report_json(sf, &c.o, &c.m, c.res, ran, ok, c.code, NULL, encode_s);
			fclose(sf);
		}
	}
	lg_model_fini(&c.m);
	lg_opts_fini(&c.o);
	return c.code;
}
