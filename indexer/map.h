/* map.h — a string-keyed open-addressing hash table for the indexer.
 *
 * Used for a directory's file -> identity table during a reconcile, the set
 * of registered repos, the pending inotify changes and the watch table.
 * Keys are copied; each entry carries a file identity, a pointer and flags. */
#ifndef CD_INDEXER_MAP_H
#define CD_INDEXER_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "storage.h"

struct map_entry {
	char *key;            /* NULL: empty slot */
	uint64_t hash;
	struct storage_stat st;
	void *ptr;
	int flags;
};

struct map {
	struct map_entry *slots;
	size_t cap;           /* a power of two, or 0 */
	size_t len;           /* live entries */
	size_t used;          /* live + tombstones */
};

/* Finds key; NULL when absent. */
struct map_entry *map_get(const struct map *m, const char *key);

/* Finds or adds key (flags 0, ptr NULL, st zero when added); NULL on ENOMEM.
 * *added, when not NULL, says whether the entry is new. */
struct map_entry *map_put(struct map *m, const char *key, bool *added);

/* Removes the entry (returned by map_get or map_put).  The caller releases
 * e->ptr first if it owns it. */
void map_del(struct map *m, struct map_entry *e);

/* Iterates: start with *i = 0; NULL at the end.  Do not add during it. */
struct map_entry *map_next(const struct map *m, size_t *i);

/* Frees the keys and the table (not the ptr values). */
void map_clear(struct map *m);

#endif
