/*
 * daemon_int.h — private to engine/: the daemon object shared by daemon.c,
 * session.c and the control API. Fields are written by the main thread
 * before the loops start, or are atomics.
 */
#ifndef ENGINE_DAEMON_INT_H
#define ENGINE_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "routehub/daemon.h"
#include "routehub/io.h"
#include "session.h"

struct rh_daemon {
	_Atomic(struct cfg *) cfg; /* current; read by the accept path */
	struct cfg **kept;         /* every configuration ever current */
	size_t nkept;
	char *path;
	unsigned nloops;
	struct sess_loop *loops;
	struct io_listener **lst; /* all on loop 0 */
	size_t nlst;
	struct io_buf *keepalive;
	struct exp *exp; /* shards and update groups */
	atomic_ulong accepted, refused_unknown;
	pthread_mutex_t mu; /* guards drained, for the shutdown wait */
	pthread_cond_t cv;
	unsigned drained;
	int started;
};

/* Source address for an outbound connection to p: its local_address, else
 * the first specific listen address of the family. */
int daemon_local_addr(struct rh_daemon *d, const struct peer *p, struct sockaddr_storage *ss,
                      socklen_t *len);
/* The loop that owns static peer `name`. */
struct sess_loop *daemon_owner(struct rh_daemon *d, const char *name);

#endif
