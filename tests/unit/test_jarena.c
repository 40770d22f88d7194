/* test_jarena.c — jansson values allocated in a per-thread arena. */
#include "unit.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>

#include "jarena.h"
#include "yamlout.h"

static void install_once(void)
{
	static bool installed;
	if (!installed) {
		jarena_install();
		installed = true;
	}
}

static json_t *sample_object(int i)
{
	return json_pack("{s:s,s:i,s:[s,s],s:{s:b}}", "name", "nginx", "n", i, "keywords",
	                 "web", "proxy", "deps", "ok", 1);
}

TEST(jarena_values_in_a_scope_live_in_the_arena)
{
	install_once();
	struct jarena a = { 0 };
	jarena_begin(&a);
	json_t *o = sample_object(1);
	CHECK(o != NULL);
	CHECK(jarena_holds(&a, o));
	CHECK(jarena_holds(&a, json_object_get(o, "keywords")));
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(text, "{\"deps\":{\"ok\":true},\"keywords\":[\"web\",\"proxy\"],\"n\":1,\"name\":\"nginx\"}");
	CHECK(jarena_holds(&a, text));
	jarena_free_text(text);
	json_decref(o); /* does nothing: the next begin takes it back */
	jarena_pause(&a);
	json_t *outside = sample_object(2);
	CHECK(outside != NULL && !jarena_holds(&a, outside));
	json_decref(outside);
	jarena_release(&a);
}

TEST(jarena_deep_copy_outlives_the_next_scope)
{
	install_once();
	struct jarena a = { 0 };
	jarena_begin(&a);
	json_t *o = sample_object(7);
	jarena_pause(&a);
	json_t *kept = json_deep_copy(o); /* paused: malloc'd */
	CHECK(kept != NULL && !jarena_holds(&a, kept));
	jarena_begin(&a); /* o is gone from here on */
	json_t *next = sample_object(8);
	CHECK(jarena_holds(&a, next));
	CHECK(json_integer_value(json_object_get(kept, "n")) == 7);
	CHECK(json_integer_value(json_object_get(next, "n")) == 8);
	jarena_pause(&a);
	json_decref(kept); /* freed by free(), the arena still attached */
	jarena_release(&a);
}

TEST(jarena_value_from_before_the_scope_is_freed_normally)
{
	install_once();
	json_t *before = sample_object(3);
	struct jarena a = { 0 };
	jarena_begin(&a);
	CHECK(!jarena_holds(&a, before));
	json_decref(before); /* a real free inside the scope; ASan would see a leak or a bad free */
	jarena_pause(&a);
	jarena_release(&a);
}

TEST(jarena_grows_past_a_chunk_and_reuses_it)
{
	install_once();
	struct jarena a = { 0 };
	for (int round = 0; round < 3; round++) {
		jarena_begin(&a);
		/* ~3 MB of values: several chunks, and one string larger than a chunk. */
		json_t *arr = json_array();
		for (int i = 0; i < 20000; i++)
			json_array_append_new(arr, sample_object(i));
		char big[200000];
		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		json_array_append_new(arr, json_string(big));
		CHECK(json_array_size(arr) == 20001);
		CHECK(jarena_holds(&a, arr));
		CHECK(json_integer_value(json_object_get(json_array_get(arr, 19999), "n")) == 19999);
		CHECK(json_string_length(json_array_get(arr, 20000)) == sizeof big - 1);
		struct buf out = { 0 };
		CHECK(yamlout_json(&out, json_array_get(arr, 5), true) == CD_OK);
		CHECK_STR(out.data, "{\"deps\":{\"ok\":true},\"keywords\":[\"web\",\"proxy\"],\"n\":5,\"name\":\"nginx\"}");
		buf_free(&out);
		json_decref(arr);
		jarena_pause(&a);
	}
	jarena_release(&a);
}

static void *other_thread(void *arg)
{
	json_t *shared = arg;
	struct jarena mine = { 0 };
	jarena_begin(&mine);
	json_t *o = sample_object(9);
	bool ok = o != NULL && jarena_holds(&mine, o) && !jarena_holds(&mine, shared);
	jarena_pause(&mine);
	jarena_release(&mine);
	return ok ? arg : NULL;
}

TEST(jarena_is_per_thread)
{
	install_once();
	struct jarena a = { 0 };
	jarena_begin(&a);
	json_t *o = sample_object(4);
	pthread_t t;
	void *res = NULL;
	CHECK(pthread_create(&t, NULL, other_thread, o) == 0);
	CHECK(pthread_join(t, &res) == 0);
	CHECK(res == o);
	/* This thread's arena is untouched by the other's. */
	CHECK(json_integer_value(json_object_get(o, "n")) == 4);
	jarena_pause(&a);
	jarena_release(&a);
	json_t *after = sample_object(5); /* no arena: plain malloc and free */
	CHECK(after != NULL);
	json_decref(after);
}
