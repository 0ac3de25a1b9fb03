/*
 * ctl_api.h — private to routehubctl (and its tests): the control API
 * client. A tiny HTTP/1.1 client over the daemon's Unix socket or TCP, and
 * the `show`, `reload` and `metrics` subcommands that print its answers as
 * tables (or the JSON body with --json). Single-threaded.
 */
#ifndef ENGINE_CTL_API_H
#define ENGINE_CTL_API_H

#include <stddef.h>
#include <stdio.h>

/* Where the API is: TCP when host is set, else the Unix socket. */
struct ctl_target {
	const char *socket; /* path */
	const char *host;   /* "127.0.0.1:8179", "[::1]:8179" */
	const char *token;  /* sent as Authorization: Bearer TOKEN */
};

struct ctl_resp {
	int status;      /* HTTP status code */
	char ctype[128]; /* Content-Type, "" if none */
	char *body;      /* malloc'ed, NUL-terminated */
	size_t len;
};

/*
 * One request with Connection: close; the whole answer is read (bounded by
 * a timeout and a size cap). 0 with *r filled, whatever the HTTP status; -1
 * with a message for the user in err when there is no HTTP answer (socket
 * missing, daemon not running, timeout, garbage).
 */
int ctl_http(const struct ctl_target *t, const char *method, const char *path, struct ctl_resp *r,
             char *err, size_t errlen);
/* Pure parser of a complete HTTP/1.x response (status line, headers, body
 * by Content-Length, chunked, or up to the end). 0 or -1 with err. */
int ctl_http_parse(const char *buf, size_t len, struct ctl_resp *r, char *err, size_t errlen);
void ctl_resp_fini(struct ctl_resp *r);

/*
 * Connection options given before the subcommand (`routehubctl -s PATH show
 * peers`): consumes the leading -s/-H/-t/--json of argv[0..argc) and
 * returns how many words it used, or -1 after printing why to stderr.
 */
int ctl_api_opts(int argc, char **argv);

/* A subcommand: argv[0] is "show", "reload" or "metrics". Exit status:
 * 0 done, 1 the daemon could not be reached or said no, 2 bad usage. */
int ctl_api_run(int argc, char **argv, FILE *out, FILE *err);

/* For routehubctl_main.c's table (stdout/stderr). */
int ctl_show_main(int argc, char **argv);
int ctl_reload_main(int argc, char **argv);
int ctl_metrics_main(int argc, char **argv);
int ctl_reset_main(int argc, char **argv);
void ctl_reset_usage(void);
void ctl_show_usage(void);
void ctl_reload_usage(void);
void ctl_metrics_usage(void);

#endif
