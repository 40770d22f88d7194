/* jarena.h — a per-thread bump allocator for jansson's values.
 *
 * A chart's Metadata and index entry are a few hundred small jansson
 * values that live for one file; with malloc each is an allocation and a
 * free (on a cold index of 130,000 charts malloc and free were a sixth of
 * the hash threads' CPU).  Inside a scope opened with jarena_begin the
 * calling thread's jansson allocations come from its arena, frees of them
 * do nothing, and the next jarena_begin takes the memory back at once.
 *
 * Ownership: a value allocated inside a scope must not be used after the
 * next jarena_begin on that arena, nor be released by another thread (use
 * json_deep_copy outside the scope to keep one).  Values from outside an
 * arena are malloc'd and freed as usual, whichever thread frees them. */
#ifndef CD_JARENA_H
#define CD_JARENA_H

#include <stdbool.h>
#include <stddef.h>

struct jarena_chunk;

struct jarena {
	struct jarena_chunk *first, *cur; /* chunks, reused from first on */
	char *pos, *end;                  /* free space in cur */
	bool active;                      /* jansson allocates here now */
};

/* Routes jansson's allocations through this module, for the whole
 * process.  Call once, before any thread and any jansson value exists;
 * threads that never call jarena_begin keep plain malloc. */
void jarena_install(void);

/* Makes a the calling thread's arena and starts a scope: every value
 * allocated in a's previous scope is gone from here on. */
void jarena_begin(struct jarena *a);

/* Ends the scope: allocations go to malloc again.  The scope's values stay
 * readable (and releasing them does nothing) until the next jarena_begin. */
void jarena_pause(struct jarena *a);

/* Frees a's memory and detaches it from the calling thread. */
void jarena_release(struct jarena *a);

/* Whether p points into memory a holds (for checks and tests). */
bool jarena_holds(const struct jarena *a, const void *p);

/* Frees a string jansson allocated (json_dumps): with the allocator jansson
 * was given, which plain free() is not once jarena_install ran. */
void jarena_free_text(char *text);

#endif
