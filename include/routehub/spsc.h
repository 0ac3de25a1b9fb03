/*
 * routehub/spsc.h — the single-producer single-consumer queue of pointers
 * that carries work between threads: io -> shard batches (rib/shard.c) and
 * shard -> io export jobs (engine/export.c).
 *
 * A ck_ring in SPSC mode: lock-free, bounded, the producer and consumer
 * fields on separate cache lines (ck_ring.h). One thread only puts, one
 * only gets; size may be read by either (an estimate). Under TSan the ring
 * is also guarded by a mutex (routehub/tsan.h): TSan cannot see ck's fences.
 */
#ifndef ROUTEHUB_SPSC_H
#define ROUTEHUB_SPSC_H

#include <stdbool.h>
#include <stdlib.h>
#include <ck_ring.h>

#include "routehub/tsan.h"

struct rh_spsc {
	struct ck_ring ring;
	struct ck_ring_buffer *buf;
	RH_TSAN_MUTEX
};

/* slots: a power of 2. 0 or -1 (out of memory). */
static inline int
rh_spsc_init(struct rh_spsc *q, unsigned slots)
{
	q->buf = (struct ck_ring_buffer *)calloc(slots, sizeof(*q->buf));
	if (q->buf == NULL)
		return -1;
	ck_ring_init(&q->ring, slots);
	RH_TSAN_INIT(q);
	return 0;
}

static inline void
rh_spsc_fini(struct rh_spsc *q)
{
	free(q->buf);
	q->buf = NULL;
}

/* Producer: false when full. The enqueue's store fence orders the
 * object's contents before its slot becomes visible (ck_ring.h). */
static inline bool
rh_spsc_put(struct rh_spsc *q, void *obj)
{
	bool ok;
	RH_TSAN_LOCK(q);
	ok = ck_ring_enqueue_spsc(&q->ring, q->buf, obj);
	RH_TSAN_UNLOCK(q);
	return ok;
}

/* Consumer: false when empty. */
static inline bool
rh_spsc_get(struct rh_spsc *q, void *obj)
{
	bool ok;
	RH_TSAN_LOCK(q);
	ok = ck_ring_dequeue_spsc(&q->ring, q->buf, obj);
	RH_TSAN_UNLOCK(q);
	return ok;
}

static inline unsigned
rh_spsc_size(struct rh_spsc *q)
{
	return ck_ring_size(&q->ring);
}

#endif
