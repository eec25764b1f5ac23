/*
 * fnv.h: FNV-1a over a string, for picking a slot of a small table by a
 * user id or an address.  Not for anything an attacker may aim at: the
 * tables it serves lose only a kept copy when two strings meet.
 */
#ifndef PATGATE_FNV_H
#define PATGATE_FNV_H

#include <stdint.h>

static inline uint32_t
fnv1a(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
