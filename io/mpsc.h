/*
 * io/mpsc.h — private to io/: the bounded multi-producer, single-consumer
 * queue behind io_loop_post() (D. Vyukov's bounded queue: one sequence
 * number per slot).
 *
 * Any thread enqueues; only the loop's thread dequeues. Why not ck_ring's
 * MPSC mode: its enqueue publishes in ticket order, so a producer preempted
 * between taking its ticket and publishing makes every later producer spin
 * (ck_pr_stall) until it runs again. With more posting threads than cores
 * (our target is 2 cores) that convoy was measured at seconds: 4 producers,
 * 1 consumer, 2 cores. Here a producer never waits for another one: a slow
 * producer only delays the consumer at its own slot, and its own wake-up
 * (after publishing) brings the consumer back.
 *
 * Invariants: slot i's seq is pos when free for the producer holding
 * ticket pos, pos + 1 once that producer has published, and pos + size after
 * the consumer took it (free for the next lap). head only grows (CAS); tail
 * belongs to the consumer.
 */
#ifndef ROUTEHUB_IO_MPSC_H
#define ROUTEHUB_IO_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct io_mpsc_slot {
	atomic_uint	 seq;
	void		(*fn)(void *);
	void		*arg;
};

struct io_mpsc {
	_Alignas(64) atomic_uint head;		/* producers */
	_Alignas(64) unsigned	 tail;		/* consumer only */
	unsigned		 mask;
	struct io_mpsc_slot	*slots;
};

#define IO_MPSC_TRIES	(1U << 20)	/* CAS retries before "full" */

static inline int
io_mpsc_init(struct io_mpsc *q, unsigned size)
{
	unsigned	 i;

	if (size < 2 || (size & (size - 1)) != 0)
		return -1;
	if ((q->slots = calloc(size, sizeof(*q->slots))) == NULL)
		return -1;
	for (i = 0; i < size; i++)
		atomic_init(&q->slots[i].seq, i);
	atomic_init(&q->head, 0);
	q->tail = 0;
	q->mask = size - 1;
	return 0;
}

static inline void
io_mpsc_fini(struct io_mpsc *q)
{
	free(q->slots);
	q->slots = NULL;
}

/* Any thread. false when full (or, implausibly, after IO_MPSC_TRIES lost
 * races in a row). */
static inline bool
io_mpsc_push(struct io_mpsc *q, void (*fn)(void *), void *arg)
{
	struct io_mpsc_slot	*s;
	unsigned		 pos, seq, n;
	int			 diff;

	/* relaxed: only a starting guess, the CAS below decides */
	pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (n = 0; n < IO_MPSC_TRIES; n++) {
		s = &q->slots[pos & q->mask];
		/* acquire: pairs with the consumer's release of this slot,
		 * so its read of the old entry happens before our write */
		seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		diff = (int)(seq - pos);
		if (diff == 0) {
			/* relaxed: the ticket only needs to be unique; data
			 * is ordered by the slot's seq */
			if (atomic_compare_exchange_weak_explicit(&q->head,
			    &pos, pos + 1, memory_order_relaxed,
			    memory_order_relaxed))
				break;
		} else if (diff < 0)
			return false;	/* a lap behind: full */
		else
			pos = atomic_load_explicit(&q->head,
			    memory_order_relaxed);
	}
	if (n == IO_MPSC_TRIES)
		return false;
	s->fn = fn;
	s->arg = arg;
	/* release: the entry is written before the consumer sees it */
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	return true;
}

/* The consumer's thread only. false when empty (or the next producer has
 * not finished publishing: it wakes the consumer when it has). */
static inline bool
io_mpsc_pop(struct io_mpsc *q, void (**fn)(void *), void **arg)
{
	struct io_mpsc_slot	*s = &q->slots[q->tail & q->mask];
	unsigned		 seq;

	/* acquire: pairs with the producer's release; the entry is visible */
	seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if ((int)(seq - (q->tail + 1)) < 0)
		return false;
	*fn = s->fn;
	*arg = s->arg;
	/* release: our reads of the entry happen before a producer of the
	 * next lap overwrites it */
	atomic_store_explicit(&s->seq, q->tail + q->mask + 1,
	    memory_order_release);
	q->tail++;
	return true;
}

#endif /* ROUTEHUB_IO_MPSC_H */
