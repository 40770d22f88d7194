/* map.c — string-keyed hash table with linear probing and tombstones. */
#include "map.h"

#include <stdlib.h>
#include <string.h>

/* A tombstone: a deleted slot that probing must walk past. */
static char map_tomb[1];

static uint64_t map_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

static struct map_entry *map_find(const struct map *m, const char *key, uint64_t h)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_entry *e = &m->slots[i];
		if (e->key == NULL)
			return NULL;
		if (e->key != map_tomb && e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
}

struct map_entry *map_get(const struct map *m, const char *key)
{
	return map_find(m, key, map_hash(key));
}

static bool map_grow(struct map *m)
{
	size_t ncap = m->cap ? m->cap : 16;
	while ((m->len + 1) * 2 > ncap)
		ncap *= 2;
	struct map_entry *ns = calloc(ncap, sizeof *ns);
	if (ns == NULL)
		return false;
	for (size_t i = 0; i < m->cap; i++) {
		struct map_entry *e = &m->slots[i];
		if (e->key == NULL || e->key == map_tomb)
			continue;
		size_t j = e->hash & (ncap - 1);
		while (ns[j].key != NULL)
			j = (j + 1) & (ncap - 1);
		ns[j] = *e;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	m->used = m->len;
	return true;
}

struct map_entry *map_put(struct map *m, const char *key, bool *added)
{
	uint64_t h = map_hash(key);
	struct map_entry *e = map_find(m, key, h);
	if (added)
		*added = e == NULL;
	if (e)
		return e;
	if ((m->used + 1) * 4 > m->cap * 3 && !map_grow(m))
		return NULL;
	char *k = strdup(key);
	if (k == NULL)
		return NULL;
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key != NULL && m->slots[i].key != map_tomb)
		i = (i + 1) & (m->cap - 1);
	e = &m->slots[i];
	if (e->key == NULL)
		m->used++;
	memset(e, 0, sizeof *e);
	e->key = k;
	e->hash = h;
	m->len++;
	return e;
}

void map_del(struct map *m, struct map_entry *e)
{
	free(e->key);
	memset(e, 0, sizeof *e);
	e->key = map_tomb;
	m->len--;
}

struct map_entry *map_next(const struct map *m, size_t *i)
{
	while (*i < m->cap) {
		struct map_entry *e = &m->slots[(*i)++];
		if (e->key != NULL && e->key != map_tomb)
			return e;
	}
	return NULL;
}

void map_clear(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != map_tomb)
			free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof *m);
}
