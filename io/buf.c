/*
 * io/buf.c — struct io_buf: refcounted, immutable-once-shared send buffers.
 *
 * Any thread. One encoded UPDATE is queued on many connections owned by
 * several loops, so the count is atomic. Invariant: refs > 0 while anybody
 * (a queue, the kernel through an in-flight send, the creator) may read data.
 */
#include <stdlib.h>

#include "io_int.h"

/* Bytes of send buffers alive, and the most ever (statistics). */
static atomic_size_t buf_bytes, buf_peak;

struct io_buf *
io_buf_new(size_t size)
{
	struct io_buf	*b;

	if (size > UINT32_MAX - sizeof(*b))
		return NULL;
	if ((b = malloc(sizeof(*b) + size)) == NULL)
		return NULL;
	/* relaxed: nobody else can see b before the creator publishes it,
	 * and publishing (queue, ring) carries its own release */
	atomic_init(&b->refs, 1);
	b->len = b->cap = (uint32_t)size;
	b->pad_ = 0;
	{
		size_t now = atomic_fetch_add_explicit(&buf_bytes, size, memory_order_relaxed) + size;
		size_t peak = atomic_load_explicit(&buf_peak, memory_order_relaxed);
		while (now > peak && !atomic_compare_exchange_weak_explicit(&buf_peak, &peak, now,
		    memory_order_relaxed, memory_order_relaxed))
			;
	}
	return b;
}

struct io_buf *
io_buf_ref(struct io_buf *b)
{
	/* relaxed: the caller already holds a reference, so the buffer cannot
	 * go away under us; no data is published by taking a reference */
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void
io_buf_unref(struct io_buf *b)
{
	unsigned	 old;

	if (b == NULL)
		return;
	/* acq_rel: the release half orders our reads of data (or the
	 * kernel's, ended by its completion) before the count drops; the
	 * acquire half, for the last holder, orders every other holder's reads
	 * before free(). (A release decrement plus an acquire fence is
	 * equivalent, but ThreadSanitizer does not model fences.) */
	old = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
	IO_BUG_ON(old == 0);
	if (old == 1) {
		atomic_fetch_sub_explicit(&buf_bytes, b->cap, memory_order_relaxed);
		free(b);
	}
}

unsigned
io_buf_refs(const struct io_buf *b)
{
	/* relaxed: a statistic, not a synchronisation point */
	return atomic_load_explicit(&b->refs, memory_order_relaxed);
}

void
io_buf_stats(size_t *alive, size_t *peak)
{
	/* relaxed: statistics */
	*alive = atomic_load_explicit(&buf_bytes, memory_order_relaxed);
	*peak = atomic_load_explicit(&buf_peak, memory_order_relaxed);
}
