/* authfail.c — per-address failed-login counter (see authfail.h).
 *
 * The table is set-associative: an address hashes to one set of
 * AUTHFAIL_WAYS slots and is looked for only there, so a lookup costs a few
 * string compares whatever the table holds.  A new address takes a free or
 * expired slot of its set, else the one whose last failure is oldest,
 * preferring slots that are not refusing anyone. */
#include "authfail.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define AUTHFAIL_SETS (AUTHFAIL_SLOTS / AUTHFAIL_WAYS)

_Static_assert(AUTHFAIL_SLOTS % AUTHFAIL_WAYS == 0, "whole sets");

int64_t authfail_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec + 1; /* never 0, the empty-slot marker */
}

/* FNV-1a: the addresses come from nginx, not chosen byte by byte. */
static unsigned set_of(const char *key)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % AUTHFAIL_SETS;
}

/* The address as stored: NULL reads as "", long ones are cut. */
static void key_of(const char *addr, char key[AUTHFAIL_ADDR_MAX])
{
	snprintf(key, AUTHFAIL_ADDR_MAX, "%s", addr ? addr : "");
}

/* True when the slot no longer counts or refuses anything at now. */
static bool expired(const struct authfail_slot *s, int64_t now)
{
	if (s->first == 0)
		return true;
	if (s->until != 0)
		return now >= s->until;
	return now - s->first >= AUTHFAIL_WINDOW_S;
}

static struct authfail_slot *find(const struct authfail *t, const char *key)
{
	const struct authfail_slot *set = &t->slot[set_of(key) * AUTHFAIL_WAYS];
	for (int i = 0; i < AUTHFAIL_WAYS; i++)
		if (set[i].first != 0 && strcmp(set[i].addr, key) == 0)
			return (struct authfail_slot *)&set[i];
	return NULL;
}

static struct authfail_slot *victim(struct authfail *t, const char *key, int64_t now)
{
	struct authfail_slot *set = &t->slot[set_of(key) * AUTHFAIL_WAYS];
	struct authfail_slot *best = NULL;
	for (int i = 0; i < AUTHFAIL_WAYS; i++) {
		struct authfail_slot *s = &set[i];
		if (expired(s, now))
			return s;
		bool refusing = s->until > now;
		if (best == NULL || (!refusing && best->until > now) ||
		    (refusing == (best->until > now) && s->last < best->last))
			best = s;
	}
	return best;
}

int authfail_wait(const struct authfail *t, const char *addr, int limit, int64_t now)
{
	char key[AUTHFAIL_ADDR_MAX];
	if (limit <= 0)
		return 0;
	key_of(addr, key);
	const struct authfail_slot *s = find(t, key);
	if (s == NULL || s->until <= now)
		return 0;
	return (int)(s->until - now);
}

bool authfail_record(struct authfail *t, const char *addr, int limit, int64_t now)
{
	char key[AUTHFAIL_ADDR_MAX];
	if (limit <= 0)
		return false;
	key_of(addr, key);
	struct authfail_slot *s = find(t, key);
	bool fresh = s == NULL;
	if (fresh)
		s = victim(t, key, now);
	if (fresh || expired(s, now)) {
		memset(s, 0, sizeof *s);
		memcpy(s->addr, key, sizeof s->addr);
		s->first = now;
	}
	s->last = now;
	if (s->until > now)
		return false; /* already refused: the pause is not extended */
	if (++s->count < limit)
		return false;
	s->until = now + AUTHFAIL_WINDOW_S;
	return true;
}

void authfail_clear(struct authfail *t, const char *addr)
{
	char key[AUTHFAIL_ADDR_MAX];
	key_of(addr, key);
	struct authfail_slot *s = find(t, key);
	if (s != NULL)
		memset(s, 0, sizeof *s);
}
