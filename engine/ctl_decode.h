/*
 * ctl_decode.h — private to routehubctl: the `decode` subcommand
 * (engine/ctl_decode.c). Runs on routehubctl's only thread.
 */
#ifndef RH_CTL_DECODE_H
#define RH_CTL_DECODE_H

/* routehubctl decode [options] FILE...; argv[0] is "decode". Returns the
 * process exit status: 0 when every file decoded without error, 1 when some
 * input was malformed (reported on stderr, decoding continued), 2 on usage
 * or I/O errors. */
int ctl_decode_main(int argc, char **argv);
void ctl_decode_usage(void);

#endif /* RH_CTL_DECODE_H */
