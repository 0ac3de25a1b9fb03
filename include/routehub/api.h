/*
 * routehub/api.h — the control API: HTTP/1.1 + JSON on a Unix socket and,
 * optionally, on TCP with a bearer token; Prometheus text at /metrics.
 *
 * Threads: api_start() and api_stop() are called from the main thread (after
 * daemon_start(), before daemon_shutdown()). Requests are served by
 * libmicrohttpd on one control-plane thread per listener; that thread only
 * calls daemon_* functions (daemon_peers, daemon_routes, daemon_rib_summary,
 * daemon_stats, daemon_cfg and the reload callback), never touches a peer or
 * a shard's tree. Endpoints and JSON shapes are in
 * docs/api.md.
 */
#ifndef ROUTEHUB_API_H
#define ROUTEHUB_API_H

#include <stddef.h>

#include "routehub/cfg.h"
#include "routehub/daemon.h"

struct rh_api;

/* POST /v1/reload: 0 when the configuration was reloaded; -1 when it was
 * refused, with the reasons appended to errs (none: an internal failure).
 * Runs on the API thread; must be safe against a concurrent SIGHUP reload
 * (daemon_reload_errs is). */
typedef int (*api_reload_fn)(void *arg, struct cfg_err_list *errs);

struct api_conf {
	const char *socket_path;      /* Unix socket; NULL: none */
	const struct cfg_listen *tcp; /* TCP listener; NULL: none */
	const char *token;            /* "Authorization: Bearer TOKEN" on TCP */
	api_reload_fn reload;         /* NULL: daemon_reload_errs(d, errs) */
	void *reload_arg;
};

/* The listeners a configuration asks for (pointers into c). */
void api_conf_from_cfg(struct api_conf *ac, const struct cfg *c);

/*
 * Bind the listeners and start serving. The Unix socket's parent directory
 * is created when missing (0750), a stale socket left by a dead daemon is
 * replaced (a live one is not: "in use"), and the socket gets mode 0660. A
 * TCP listener without a token is refused. The settings are copied: a reload
 * that changes them takes effect at the next start. -1 with a message in err.
 */
int api_start(struct rh_api **out, struct rh_daemon *d, const struct api_conf *ac, char *err,
              size_t errlen);
/* Stop serving (in-flight requests finish), remove the socket, free. NULL ok. */
void api_stop(struct rh_api *a);

#endif
