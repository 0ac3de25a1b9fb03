/*
 * bgp_wire.h — private to the codec (engine/bgp_*.c): big-endian load/store
 * helpers. Callers check bounds before calling; these never do.
 */
#ifndef ENGINE_BGP_WIRE_H
#define ENGINE_BGP_WIRE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Write a BGP header (RFC 4271 §4.1) for a message of total length len. */
static inline void
bgp_put_header(uint8_t *p, uint16_t len, uint8_t type)
{
	memset(p, 0xff, 16);
	put16(p + 16, len);
	p[18] = type;
}

#endif
