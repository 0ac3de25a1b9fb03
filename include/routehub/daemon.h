/*
 * routehub/daemon.h — routehubd as a library: start the io threads, the
 * listeners and every configured peer; reload; shut down.
 *
 * Called from the main thread only (routehubd_main.c, tests). The daemon owns
 * the configurations it is given: the current one and every earlier one stay
 * allocated until daemon_free(), because sessions keep pointers into the entry
 * they were started from (a reload costs the old file's few kilobytes).
 */
#ifndef ROUTEHUB_DAEMON_H
#define ROUTEHUB_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "routehub/cfg.h"

struct rh_daemon;

/* Takes ownership of c. path (may be NULL) is re-read by daemon_reload(). */
int daemon_new(struct rh_daemon **out, struct cfg *c, const char *path);
/* Probe the kernel, start loops, listeners and peers. -1 with a message
 * in err on failure. */
int daemon_start(struct rh_daemon *d, char *err, size_t errlen);
/* Re-read the file. On a bad file the errors are logged and nothing
 * changes (-1). Otherwise added peers start, removed ones get Cease/Peer
 * De-configured, changed ones restart, untouched sessions stay up. */
int daemon_reload(struct rh_daemon *d);
/* Apply an already loaded configuration as daemon_reload() does (takes c). */
int daemon_apply(struct rh_daemon *d, struct cfg *c);
/* Cease/Administrative Shutdown with an RFC 8203 message to every peer, wait
 * (at most timeout_ms) for the NOTIFICATIONs to leave, stop the threads. */
void daemon_shutdown(struct rh_daemon *d, const char *msg, unsigned timeout_ms);
void daemon_free(struct rh_daemon *d);

/* Counters for logs and tests. */
struct daemon_stats {
	uint64_t accepted;        /* connections handed to a peer */
	uint64_t refused_unknown; /* closed at once: no configured peer matched */
};
void daemon_stats(const struct rh_daemon *d, struct daemon_stats *st);

#endif
