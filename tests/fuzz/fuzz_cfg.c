/*
 * fuzz_cfg.c — libFuzzer target for the YAML configuration parser: any
 * bytes must give a configuration or a list of errors, never a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "routehub/cfg.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct cfg_err_list errs;
	struct cfg *c = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a010104) };

	cfg_errs_init(&errs);
	if (cfg_parse_buf("fuzz.yaml", (const char *)data, len, &c, &errs) == 0) {
		cfg_peer_match(c, (struct sockaddr *)&sin);
		cfg_free(c);
	}
	cfg_errs_fini(&errs);
	return 0;
}
