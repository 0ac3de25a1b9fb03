/*
 * io/timer.c — per-loop timers: a binary min-heap of embedded struct io_timer
 * ordered by (deadline, arm sequence), driven by one IORING_OP_TIMEOUT for
 * the nearest deadline.
 *
 * Runs on the loop's thread only. Thousands of sessions each hold a few
 * timers (hold, keepalive, connect retry), re-armed on nearly every message,
 * so arm/disarm are O(log n) without allocation (the heap array grows by
 * doubling and is never shrunk). Invariants: t->slot is t's index in
 * loop->heap, or IO_TIMER_IDLE; the ring timeout in flight (tmo_armed) is
 * never later than the heap's minimum after io_timers_sync(). A timer armed
 * while expired timers are being run does not run in the same round, which
 * bounds every round by the heap's size.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "io_int.h"

uint64_t
io_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
io_now_ms(void)
{
	return io_now_ns() / 1000000ULL;
}

static bool
before(const struct io_timer *a, const struct io_timer *b)
{
	return a->deadline < b->deadline ||
	    (a->deadline == b->deadline && a->seq < b->seq);
}

static void
heap_set(struct io_loop *l, uint32_t i, struct io_timer *t)
{
	l->heap[i] = t;
	t->slot = i;
}

static void
heap_up(struct io_loop *l, uint32_t i)
{
	struct io_timer	*t = l->heap[i];
	uint32_t	 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (!before(t, l->heap[p]))
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void
heap_down(struct io_loop *l, uint32_t i)
{
	struct io_timer	*t = l->heap[i];
	uint32_t	 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void
heap_remove(struct io_loop *l, struct io_timer *t)
{
	uint32_t	 i = t->slot;
	struct io_timer	*last;

	IO_BUG_ON(i >= l->nheap || l->heap[i] != t);
	t->slot = IO_TIMER_IDLE;
	last = l->heap[--l->nheap];
	if (i == l->nheap)
		return;
	heap_set(l, i, last);
	if (i > 0 && before(last, l->heap[(i - 1) / 2]))
		heap_up(l, i);
	else
		heap_down(l, i);
}

void
io_timer_init(struct io_timer *t, struct io_loop *loop,
    void (*cb)(struct io_timer *, void *), void *arg)
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->slot = IO_TIMER_IDLE;
}

bool
io_timer_armed(const struct io_timer *t)
{
	return t->slot != IO_TIMER_IDLE;
}

int
io_timer_arm(struct io_timer *t, uint64_t ms)
{
	struct io_loop	*l = t->loop;

	if (t->slot != IO_TIMER_IDLE)
		heap_remove(l, t);
	if (l->nheap == l->heapcap) {
		uint32_t	  ncap = l->heapcap ? l->heapcap * 2 : 64;
		struct io_timer	**nh;

		if ((nh = realloc(l->heap, ncap * sizeof(*nh))) == NULL)
			return -ENOMEM;
		l->heap = nh;
		l->heapcap = ncap;
	}
	if (ms > UINT64_MAX / 2000000ULL)
		ms = UINT64_MAX / 2000000ULL;
	t->deadline = io_now_ns() + ms * 1000000ULL;
	t->seq = l->tseq++;
	l->heap[l->nheap] = t;
	t->slot = l->nheap++;
	heap_up(l, t->slot);
	return 0;
}

void
io_timer_disarm(struct io_timer *t)
{
	if (t->slot != IO_TIMER_IDLE)
		heap_remove(t->loop, t);
}

void
io_timers_run(struct io_loop *l)
{
	uint64_t	 now, limit = l->tseq;
	struct io_timer	*t;

	if (l->nheap == 0)
		return;
	now = io_now_ns();
	while (l->nheap > 0) {
		t = l->heap[0];
		if (t->deadline > now || t->seq >= limit)
			break;
		heap_remove(l, t);
		l->st.timers++;
		t->cb(t, t->arg);
	}
}

/* Before waiting: make the ring timeout cover the earliest deadline. */
void
io_timers_sync(struct io_loop *l)
{
	struct io_uring_sqe	*sqe;
	uint64_t		 d;

	if (l->nheap == 0)
		return;
	d = l->heap[0]->deadline;
	if (!l->tmo_armed) {
		l->tmo_ts.tv_sec = (int64_t)(d / 1000000000ULL);
		l->tmo_ts.tv_nsec = (long long)(d % 1000000000ULL);
		sqe = io_sqe(l);
		io_uring_prep_timeout(sqe, &l->tmo_ts, 0, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(sqe, io_ud(l, IO_OP_TIMEOUT));
		l->tmo_armed = true;
		l->tmo_deadline = d;
		l->inflight++;
	} else if (d < l->tmo_deadline) {
		/* -ENOENT if it just fired: its CQE re-arms us then */
		l->tmo_upd_ts.tv_sec = (int64_t)(d / 1000000000ULL);
		l->tmo_upd_ts.tv_nsec = (long long)(d % 1000000000ULL);
		sqe = io_sqe(l);
		io_uring_prep_timeout_update(sqe, &l->tmo_upd_ts,
		    io_ud(l, IO_OP_TIMEOUT), IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(sqe, io_ud(l, IO_OP_TIMEOUT_UPD));
		l->tmo_deadline = d;
		l->inflight++;
	}
}

/*
 * Timers still armed belong to owners that may already have freed them:
 * do not touch them, just forget them.
 */
void
io_timers_fini(struct io_loop *l)
{
	l->nheap = 0;
	free(l->heap);
	l->heap = NULL;
	l->heapcap = 0;
}
