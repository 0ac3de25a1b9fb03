/*
 * routehubd_main.c — the routehubd command: options, signals, the daemon.
 *
 *   routehubd [-c FILE] [--check] [-d] [--print-default]
 *
 * Without -c it runs the embedded demo configuration. Runs in the
 * foreground, one log line per event on stderr. The main thread waits for
 * signals (blocked in every thread, taken with sigwaitinfo): SIGHUP reloads,
 * SIGTERM/SIGINT send Cease/Administrative Shutdown with an RFC 8203 message
 * to every peer and exit 0. The control API (api.c) serves on its own thread
 * from after daemon_start() until before daemon_shutdown(); its reloads and
 * SIGHUP's are serialized inside the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routehub/api.h"
#include "routehub/cfg.h"
#include "routehub/daemon.h"
#include "routehub/log.h"

/* jemalloc's tuning, read at its start: give the pages of a burst's
 * transient buffers back within a second instead of ten. */
extern const char *malloc_conf;
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";

static void
usage(FILE *f)
{
	fprintf(f, "usage: routehubd [-c FILE] [--check] [-d] [--print-default]\n"
	           "  -c, --config FILE   configuration (default: the embedded demo hub)\n"
	           "      --check         validate the configuration and exit\n"
	           "  -d, --debug         log every state change\n"
	           "      --print-default print the embedded configuration\n");
}

/* POST /v1/reload, on the API thread. */
static int
api_reload(void *arg, struct cfg_err_list *errs)
{
	log_info("api: reload requested");
	return daemon_reload_errs(arg, errs);
}

int
main(int argc, char **argv)
{
	/* clang-format off */
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'C'},
		{"debug", no_argument, NULL, 'd'},
		{"print-default", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* clang-format on */
	const char *path = NULL;
	int check = 0, debug = 0, o, r;
	struct cfg_err_list errs;
	struct cfg *c;
	struct rh_daemon *d;
	struct rh_api *api = NULL;
	struct api_conf ac;
	sigset_t set;
	char err[512];

	while ((o = getopt_long(argc, argv, "c:dh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'P':
			fputs(cfg_default_yaml(), stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	cfg_errs_init(&errs);
	r = path ? cfg_load(path, &c, &errs) : cfg_load_default(&c, &errs);
	if (r < 0) {
		cfg_errs_print(&errs, stderr);
		cfg_errs_fini(&errs);
		return 1;
	}
	cfg_errs_fini(&errs);
	if (check) {
		printf("%s: configuration OK (%zu peer entries)\n", path ? path : "<default>",
		       c->npeers);
		cfg_free(c);
		return 0;
	}
	log_set_level(debug ? LOG_LVL_DEBUG : (enum log_level)c->log_level);

	/* Every thread inherits this mask; only sigwaitinfo below takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (daemon_new(&d, c, path) < 0) {
		fprintf(stderr, "routehubd: out of memory\n");
		return 1;
	}
	if (daemon_start(d, err, sizeof(err)) < 0) {
		fprintf(stderr, "routehubd: %s\n", err);
		daemon_free(d);
		return 1;
	}
	/* Without its API the daemon still routes: say so and carry on. */
	api_conf_from_cfg(&ac, c);
	ac.reload = api_reload;
	ac.reload_arg = d;
	if (api_start(&api, d, &ac, err, sizeof(err)) < 0)
		log_error("control API not started, routehubd keeps running without it: %s", err);
	for (;;) {
		siginfo_t si;
		int s = sigwaitinfo(&set, &si);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (s == SIGHUP) {
			log_info("SIGHUP: reloading %s", path ? path : "<default>");
			daemon_reload(d);
			continue;
		}
		log_info("%s: shutting down", s == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	api_stop(api);
	daemon_shutdown(d, "routehubd shutting down", 3000);
	daemon_free(d);
	log_info("routehubd stopped");
	return 0;
}
