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
	{ "decode", "decode MRT dumps or hex BGP messages (JSON, bgpdump -m, summary)",
	  ctl_decode_main, ctl_decode_usage },
	{ "help", "list subcommands, or `help SUBCOMMAND` for its options", cmd_help, usage },
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
	fprintf(stderr, "usage: routehubctl SUBCOMMAND [ARGS...]\n\nsubcommands:\n");
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

	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(1, argv);
	c = cmd_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "routehubctl: unknown subcommand '%s'\n", argv[1]);
		usage();
		return 2;
	}
	return c->run(argc - 1, argv + 1);
}
