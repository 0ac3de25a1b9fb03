/*
 * routehub/tsan.h — making the lock-free queues visible to ThreadSanitizer.
 *
 * ck_ring orders its slots with fences and inline assembly that TSan cannot
 * see, and the slot accesses happen inside ck's inline functions, before any
 * annotation could run. So under TSan (only) each SPSC ring is also guarded
 * by a mutex (RH_TSAN_MUTEX field, RH_TSAN_LOCK/UNLOCK around enqueue and
 * dequeue): TSan then sees the order ck_ring's fences already guarantee.
 * RH_TSAN_ACQUIRE/RELEASE annotate other hand-offs. Without TSan all are
 * no-ops and the rings stay lock-free.
 */
#ifndef ROUTEHUB_TSAN_H
#define ROUTEHUB_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define RH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RH_TSAN 1
#endif
#endif

#ifdef RH_TSAN
#include <pthread.h>
#include <sanitizer/tsan_interface.h>
#define RH_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define RH_TSAN_RELEASE(p) __tsan_release((void *)(p))
#define RH_TSAN_MUTEX pthread_mutex_t tsan_mu;
#define RH_TSAN_INIT(r) pthread_mutex_init(&(r)->tsan_mu, NULL)
#define RH_TSAN_LOCK(r) pthread_mutex_lock(&(r)->tsan_mu)
#define RH_TSAN_UNLOCK(r) pthread_mutex_unlock(&(r)->tsan_mu)
#else
#define RH_TSAN_ACQUIRE(p) ((void)(p))
#define RH_TSAN_RELEASE(p) ((void)(p))
#define RH_TSAN_MUTEX
#define RH_TSAN_INIT(r) ((void)(r))
#define RH_TSAN_LOCK(r) ((void)(r))
#define RH_TSAN_UNLOCK(r) ((void)(r))
#endif

#endif
