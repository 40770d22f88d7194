/* jarena.c — a per-thread bump allocator for jansson's values (jarena.h). */
#include "jarena.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define JARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define JARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define JARENA_POISON(p, n) ((void)(p), (void)(n))
#define JARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* One chunk holds a typical chart's values many times over; a scope that
 * needed more than JARENA_KEEP gives the extra back at its next begin. */
#define JARENA_CHUNK (64u << 10)
#define JARENA_KEEP (1u << 20)
#define JARENA_ALIGN 16u

struct jarena_chunk {
	struct jarena_chunk *next;
	size_t size; /* usable bytes at data */
	_Alignas(JARENA_ALIGN) char data[];
};

static _Thread_local struct jarena *thread_arena;

static bool chunk_holds(const struct jarena_chunk *c, const void *p)
{
	uintptr_t u = (uintptr_t)p, lo = (uintptr_t)c->data;
	return u >= lo && u - lo < c->size;
}

/* Moves a to a chunk after cur with room for n bytes, reusing the chain
 * when it can and appending a new chunk otherwise. */
static bool next_chunk(struct jarena *a, size_t n)
{
	struct jarena_chunk *c = a->cur ? a->cur->next : a->first;
	while (c != NULL && c->size < n)
		c = c->next; /* a chunk too small for one huge value stays unused this scope */
	if (c == NULL) {
		size_t size = n > JARENA_CHUNK ? n : JARENA_CHUNK;
		c = malloc(sizeof *c + size);
		if (c == NULL)
			return false;
		c->size = size;
		JARENA_POISON(c->data, size);
		/* Appended after cur (or first): the chain keeps its order of use. */
		if (a->cur == NULL) {
			c->next = a->first;
			a->first = c;
		} else {
			c->next = a->cur->next;
			a->cur->next = c;
		}
	}
	a->cur = c;
	a->pos = c->data;
	a->end = c->data + c->size;
	return true;
}

static void *jarena_malloc(size_t n)
{
	struct jarena *a = thread_arena;
	if (a == NULL || !a->active)
		return malloc(n);
	if (n > SIZE_MAX / 2)
		return NULL; /* no rounding or chunk header may overflow */
	n = (n + JARENA_ALIGN - 1) & ~(size_t)(JARENA_ALIGN - 1);
	if (n == 0)
		n = JARENA_ALIGN;
	if ((size_t)(a->end - a->pos) < n && !next_chunk(a, n))
		return NULL;
	void *p = a->pos;
	a->pos += n;
	JARENA_UNPOISON(p, n);
	return p;
}

bool jarena_holds(const struct jarena *a, const void *p)
{
	for (const struct jarena_chunk *c = a->first; c != NULL; c = c->next)
		if (chunk_holds(c, p))
			return true;
	return false;
}

static void jarena_free(void *p)
{
	struct jarena *a = thread_arena;
	if (a != NULL && p != NULL && jarena_holds(a, p))
		return; /* taken back by the next jarena_begin */
	free(p);
}

void jarena_install(void)
{
	json_set_alloc_funcs(jarena_malloc, jarena_free);
}

void jarena_free_text(char *text)
{
	json_free_t release = NULL;
	json_get_alloc_funcs(NULL, &release);
	(release ? release : free)(text);
}

void jarena_begin(struct jarena *a)
{
	size_t total = 0;
	for (struct jarena_chunk **link = &a->first, *c; (c = *link) != NULL;) {
		if (total + c->size > JARENA_KEEP && c != a->first) {
			*link = c->next;
			free(c);
			continue;
		}
		total += c->size;
		JARENA_POISON(c->data, c->size);
		link = &c->next;
	}
	a->cur = a->first;
	a->pos = a->first ? a->first->data : NULL;
	a->end = a->first ? a->first->data + a->first->size : NULL;
	a->active = true;
	thread_arena = a;
}

void jarena_pause(struct jarena *a)
{
	a->active = false;
}

void jarena_release(struct jarena *a)
{
	struct jarena_chunk *c = a->first;
	while (c != NULL) {
		struct jarena_chunk *next = c->next;
		JARENA_UNPOISON(c->data, c->size);
		free(c);
		c = next;
	}
	a->first = a->cur = NULL;
	a->pos = a->end = NULL;
	a->active = false;
	if (thread_arena == a)
		thread_arena = NULL;
}
