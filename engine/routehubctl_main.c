/*
 * routehubctl_main.c — routehubctl's entry point: a dispatcher over
 * subcommands (`routehubctl SUBCOMMAND [ARGS...]`). Single-threaded.
 *
 * Each subcommand is one row of the table below: its name, a one-line summary
 * for `routehubctl help`, its main (argv[0] is the subcommand's name) and its
 * usage printer. Add a subcommand by adding a row; the logic lives in its own
 * engine/ctl_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "ctl_api.h"
#include "ctl_decode.h"

struct ctl_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*usage)(void);
};

static int cmd_help(int argc, char **argv);
static void usage(void);

static const struct ctl_cmd cmds[] = {
    {"decode", "decode MRT dumps or hex BGP messages (JSON, bgpdump -m, summary)", ctl_decode_main,
     ctl_decode_usage},
    {"show", "show a running routehubd's status, peers or one peer (control API)", ctl_show_main,
     ctl_show_usage},
    {"reload", "make routehubd re-read its configuration file", ctl_reload_main, ctl_reload_usage},
    {"metrics", "print routehubd's Prometheus metrics", ctl_metrics_main, ctl_metrics_usage},
    {"reset", "reset a peer's session: soft in, soft out or hard", ctl_reset_main, ctl_reset_usage},
    {"help", "list subcommands, or `help SUBCOMMAND` for its options", cmd_help, usage},
};

static const struct ctl_cmd *
cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: routehubctl [-s SOCKET | -H HOST:PORT -t TOKEN] [--json] "
	                "SUBCOMMAND [ARGS...]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
}

static int
cmd_help(int argc, char **argv)
{
	const struct ctl_cmd *c;

	if (argc < 2) {
		usage();
		return 0;
	}
	c = cmd_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "routehubctl: unknown subcommand '%s'\n", argv[1]);
		usage();
		return 2;
	}
	c->usage();
	return 0;
}

int
main(int argc, char **argv)
{
	const struct ctl_cmd *c;
	int n;

	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(1, argv);
	/* Connection options (-s, -H, -t, --json) may precede the subcommand. */
	if ((n = ctl_api_opts(argc - 1, argv + 1)) < 0 || argc - n < 2) {
		usage();
		return 2;
	}
	argc -= n;
	argv += n;
	c = cmd_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "routehubctl: unknown subcommand '%s'\n", argv[1]);
		usage();
		return 2;
	}
	return c->run(argc - 1, argv + 1);
}
