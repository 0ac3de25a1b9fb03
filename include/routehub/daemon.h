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
/* daemon_reload() that also hands the refusal to its caller: on -1 the
 * loader's lines ("FILE:LINE: PATH: PROBLEM") are appended to errs (may be
 * NULL); -1 with no line added means the apply itself failed (memory).
 * Reloads and applies are serialized (main thread on SIGHUP, API thread). */
int daemon_reload_errs(struct rh_daemon *d, struct cfg_err_list *errs);
/* Apply an already loaded configuration as daemon_reload() does (takes c). */
int daemon_apply(struct rh_daemon *d, struct cfg *c);
/* The configuration in force; any thread. It stays allocated until
 * daemon_free(), even after a reload replaced it. */
const struct cfg *daemon_cfg(struct rh_daemon *d);
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


/* ---- snapshots for the control API (any thread but the io threads) ---------- */
struct daemon_peer_info {
	char name[64];
	char address[48];
	char role[24];
	char state[16];       /* RFC 4271 state of the most advanced connection */
	char last_error[400];
	uint32_t asn;         /* configured (0: any) */
	uint32_t peer_asn;    /* negotiated, 0 if never up */
	uint32_t peer_id;     /* host byte order, 0 if never up */
	uint16_t hold_time;   /* negotiated */
	uint16_t keepalive;
	int dynamic;
	int ibgp;
	uint64_t uptime_ms;   /* 0 when not Established */
	uint64_t msgs_in, msgs_out, updates_in;
	uint64_t prefixes_announced, prefixes_withdrawn, treat_as_withdraw, attr_discards;
	uint64_t eor_in, refresh_in;
	uint32_t established, flaps;
	uint32_t caps;        /* BGP_CAPF_* negotiated-in-both (as4, ext msg ...) */
};
/* Every peer of every loop, gathered by posting a query to each loop and
 * waiting (at most timeout_ms). *out is malloc'ed; the caller frees it. */
int daemon_peers(struct rh_daemon *d, struct daemon_peer_info **out, size_t *n,
                 unsigned timeout_ms);

#endif
