/* test_yamlout.c — JSON to YAML as Helm writes index.yaml. */
#include "unit.h"
#include "digest.h"
#include "yamlout.h"

#include <stdlib.h>

/* Renders s as a scalar into a static-lifetime-free string (caller frees). */
static char *scalar(const char *s)
{
	struct buf b = { 0 };
	if (yamlout_string(&b, s, strlen(s)) != CD_OK)
		return NULL;
	return b.data;
}

static void check_scalar(const char *in, const char *want, int line)
{
	char *got = scalar(in);
	if (got == NULL || strcmp(got, want) != 0) {
		char m[512];
		snprintf(m, sizeof m, "scalar [%s]: got [%s], want [%s]", in,
		         got ? got : "(null)", want);
		unit_fail(__FILE__, line, m);
	}
	free(got);
}
#define SCALAR(in, want) check_scalar(in, want, __LINE__)

/* Renders a JSON document with yamlout_value at indent 0. */
static char *render(const char *json)
{
	json_t *v = json_loads(json, 0, NULL);
	struct buf b = { 0 };
	if (v == NULL || yamlout_value(&b, v, 0) != CD_OK) {
		json_decref(v);
		buf_free(&b);
		return NULL;
	}
	json_decref(v);
	return b.data;
}

TEST(digest_sha256_of_abc_is_the_known_vector)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_sha256_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(yamlout_ordinary_strings_stay_plain)
{
	SCALAR("mychart", "mychart");
	SCALAR("1.2.3", "1.2.3");
	SCALAR("0.1.0-rc.1+build.5", "0.1.0-rc.1+build.5");
	SCALAR("A Helm chart for Kubernetes", "A Helm chart for Kubernetes");
	SCALAR("https://example.com/a#b", "https://example.com/a#b");
	SCALAR("charts/mychart-0.1.0.tgz", "charts/mychart-0.1.0.tgz");
	SCALAR(">=1.19.0-0", "\">=1.19.0-0\"");
	SCALAR("v1.2", "v1.2");
	SCALAR("café", "café");
	SCALAR("a:b", "a:b");
	SCALAR("yesterday", "yesterday");
	SCALAR(".", ".");
}

TEST(yamlout_strings_that_read_as_other_types_are_quoted)
{
	SCALAR("", "\"\"");
	SCALAR("1.10", "\"1.10\"");
	SCALAR("1", "\"1\"");
	SCALAR("-1", "\"-1\"");
	SCALAR("+1.5", "\"+1.5\"");
	SCALAR(".5", "\".5\"");
	SCALAR("1.", "\"1.\"");
	SCALAR("0x1F", "\"0x1F\"");
	SCALAR("0o17", "\"0o17\"");
	SCALAR("0b101", "\"0b101\"");
	SCALAR("0b_", "\"0b_\"");
	SCALAR("0x", "0x");
	SCALAR("017", "\"017\"");
	SCALAR("1_000", "\"1_000\"");
	SCALAR("1e3", "\"1e3\"");
	SCALAR("1.5E-7", "\"1.5E-7\"");
	SCALAR("190:20:30", "\"190:20:30\"");
	SCALAR("true", "\"true\"");
	SCALAR("False", "\"False\"");
	SCALAR("yes", "\"yes\"");
	SCALAR("YeS", "\"YeS\"");
	SCALAR("on", "\"on\"");
	SCALAR("OFF", "\"OFF\"");
	SCALAR("no", "\"no\"");
	SCALAR("y", "\"y\"");
	SCALAR("N", "\"N\"");
	SCALAR("null", "\"null\"");
	SCALAR("NULL", "\"NULL\"");
	SCALAR("~", "\"~\"");
	SCALAR("<<", "\"<<\"");
	SCALAR(".inf", "\".inf\"");
	SCALAR("-.Inf", "\"-.Inf\"");
	SCALAR(".NaN", "\".NaN\"");
	SCALAR("2026-11-23", "\"2026-11-23\"");
	SCALAR("2026-11-23T14:35:02.12345Z", "\"2026-11-23T14:35:02.12345Z\"");
}

TEST(yamlout_strings_with_indicators_are_quoted)
{
	const char *lead = "-?:,[]{}#&*!|>'\"%@` ";
	for (const char *p = lead; *p; p++) {
		char in[8] = { *p, 'x', '\0' };
		char *got = scalar(in);
		CHECK(got != NULL && got[0] == '"');
		free(got);
	}
	SCALAR("a: b", "\"a: b\"");
	SCALAR("a #b", "\"a #b\"");
	SCALAR("trailing ", "\"trailing \"");
	SCALAR("ends:", "\"ends:\"");
	SCALAR("...", "\"...\"");
	SCALAR("---", "\"---\"");
}

TEST(yamlout_control_characters_are_escaped_like_json)
{
	SCALAR("two\nlines", "\"two\\nlines\"");
	SCALAR("tab\there", "\"tab\\there\"");
	SCALAR("cr\r", "\"cr\\r\"");
	SCALAR("say \"hi\": x", "\"say \\\"hi\\\": x\"");
	SCALAR("back\\slash: x", "\"back\\\\slash: x\"");
	SCALAR("bell\a", "\"bell\\u0007\"");
	SCALAR("del\x7f", "\"del\\u007F\"");
	SCALAR("nel\xc2\x85", "\"nel\\u0085\"");
	SCALAR("ls\xe2\x80\xa8", "\"ls\\u2028\"");
	SCALAR("\xef\xbb\xbf" "bom", "\"\\uFEFFbom\"");
	SCALAR("bad\xff", "\"bad\\xFF\"");
	SCALAR("ünïcode: x", "\"ünïcode: x\"");
}

TEST(yamlout_keys_sort_like_go_yaml)
{
	CHECK(yamlout_key_compare("apiVersion", "appVersion") < 0);
	CHECK(yamlout_key_compare("a", "b") < 0);
	CHECK(yamlout_key_compare("app2", "app10") < 0);
	CHECK(yamlout_key_compare("app10", "app2") > 0);
	CHECK(yamlout_key_compare("a-b", "ab") < 0);
	CHECK(yamlout_key_compare("a_", "aB") < 0);
	CHECK(yamlout_key_compare("a", "ab") < 0);
	CHECK(yamlout_key_compare("same", "same") == 0);
	char *got = render("{\"b\":1,\"a\":2,\"c10\":3,\"c9\":4}");
	CHECK_STR(got, "a: 2\nb: 1\nc9: 4\nc10: 3\n");
	free(got);
}

TEST(yamlout_nested_maps_and_sequences_use_helm_block_style)
{
	char *got = render("{\"m\":{\"y\":\"1.0\",\"x\":true},\"s\":[\"a\",{\"k\":1,\"j\":null}],"
	                   "\"e\":{},\"f\":[],\"ss\":[[\"x\",\"y\"],[]],\"r\":1.5}");
	CHECK_STR(got, "e: {}\n"
	               "f: []\n"
	               "m:\n"
	               "  x: true\n"
	               "  \"y\": \"1.0\"\n"
	               "r: 1.5\n"
	               "s:\n"
	               "- a\n"
	               "- j: null\n"
	               "  k: 1\n"
	               "ss:\n"
	               "- - x\n"
	               "  - \"y\"\n"
	               "- []\n");
	free(got);
}

TEST(yamlout_quotes_keys_by_the_same_rule)
{
	char *got = render("{\"true\":\"x\",\"a b\":\"y\",\"1.0\":\"z\",\"\":\"e\"}");
	CHECK_STR(got, "\"\": e\n\"1.0\": z\na b: \"y\"\n\"true\": x\n");
	free(got);
}

TEST(yamlout_full_index_entry_matches_helm_text)
{
	const char *json =
		"{\"apiVersion\":\"v2\",\"name\":\"mychart\",\"version\":\"0.1.0\","
		"\"appVersion\":\"1.16.0\",\"description\":\"A Helm chart: demo\","
		"\"type\":\"application\",\"keywords\":[\"web\",\"1.0\"],"
		"\"maintainers\":[{\"name\":\"Jane\",\"email\":\"jane@example.com\"}],"
		"\"annotations\":{\"artifacthub.io/license\":\"MIT\",\"category\":\"on\"},"
		"\"dependencies\":[{\"name\":\"redis\",\"version\":\"17.x.x\","
		"\"repository\":\"https://charts.bitnami.com/bitnami\",\"condition\":\"redis.enabled\"}],"
		"\"urls\":[\"charts/mychart-0.1.0.tgz\"],"
		"\"created\":\"2026-11-23T14:35:02.12345Z\","
		"\"digest\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}";
	json_t *v = json_loads(json, 0, NULL);
	struct buf b = { 0 };
	CHECK(v != NULL);
	CHECK(yamlout_seq_item(&b, v, 2) == CD_OK);
	CHECK_STR(b.data,
	          "  - annotations:\n"
	          "      artifacthub.io/license: MIT\n"
	          "      category: \"on\"\n"
	          "    apiVersion: v2\n"
	          "    appVersion: 1.16.0\n"
	          "    created: \"2026-11-23T14:35:02.12345Z\"\n"
	          "    dependencies:\n"
	          "    - condition: redis.enabled\n"
	          "      name: redis\n"
	          "      repository: https://charts.bitnami.com/bitnami\n"
	          "      version: 17.x.x\n"
	          "    description: \"A Helm chart: demo\"\n"
	          "    digest: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
	          "    keywords:\n"
	          "    - web\n"
	          "    - \"1.0\"\n"
	          "    maintainers:\n"
	          "    - email: jane@example.com\n"
	          "      name: Jane\n"
	          "    name: mychart\n"
	          "    type: application\n"
	          "    urls:\n"
	          "    - charts/mychart-0.1.0.tgz\n"
	          "    version: 0.1.0\n");
	buf_free(&b);
	json_decref(v);
}

TEST(yamlout_empty_object_item_is_flow)
{
	json_t *v = json_object();
	struct buf b = { 0 };
	CHECK(yamlout_seq_item(&b, v, 2) == CD_OK);
	CHECK_STR(b.data, "  - {}\n");
	buf_free(&b);
	json_decref(v);
}

TEST(yamlout_buf_printf_grows_past_its_first_chunk)
{
	struct buf b = { 0 };
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(buf_printf(&b, "<%s>%d", big, 7) == CD_OK);
	CHECK(b.len == 1002);
	CHECK(b.data[0] == '<' && b.data[1000] == '>' && b.data[1001] == '7' && b.data[1002] == 0);
	buf_free(&b);
}

/* Writes v both ways and compares with jansson's own output. */
static void check_json_like_jansson(const json_t *v, bool sort)
{
	struct buf b = { 0 };
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | (sort ? JSON_SORT_KEYS : 0));
	CHECK(yamlout_json(&b, v, sort) == CD_OK);
	CHECK(want != NULL && b.data != NULL);
	if (want && b.data)
		CHECK_STR(b.data, want);
	free(want);
	buf_free(&b);
}

TEST(yamlout_json_writes_what_jansson_writes)
{
	json_t *v = json_loads(
		"{\"name\":\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f/x\",\"zeta\":[],"
		"\"Alpha\":{},\"b\":[1,-2,true,false,null,1.5,1e300,0.1,\"\\u00e9\\u4e2d\\ud83d\\ude00\"],"
		"\"ab\":{\"y\":{\"k\":[{\"b\":1,\"a\":2}]},\"x\":\"\"},\"a\":\"1.10\",\"\":0}",
		0, NULL);
	CHECK(v != NULL);
	check_json_like_jansson(v, true);
	check_json_like_jansson(v, false);
	json_t *s = json_stringn("nul\0byte", 8);
	check_json_like_jansson(s, false);
	json_decref(s);
	json_decref(v);
}

/* Objects of a few keys are sorted by insertion and larger ones by qsort:
 * either way YAML keys come out in go-yaml's order and JSON keys in
 * jansson's. */
TEST(yamlout_keys_sort_the_same_in_small_and_large_objects)
{
	static const char *const shapes[] = { "k%d", "K%d", "_%d", "a-%d", "%d", "z%dz" };
	for (size_t nkeys = 3; nkeys <= 60; nkeys += 19) {
		json_t *obj = json_object();
		for (size_t i = 0; i < nkeys; i++) {
			size_t pick = (i * 7 + 3) % nkeys; /* a fixed shuffle */
			char key[32];
			snprintf(key, sizeof key, shapes[pick % 6], (int)(pick * 37 % 101));
			json_object_set_new(obj, key, json_integer((json_int_t)pick));
		}
		struct buf b = { 0 };
		CHECK(yamlout_value(&b, obj, 0) == CD_OK);
		size_t lines = 0;
		char prev[64] = "";
		for (char *line = b.data, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			char *colon = strrchr(line, ':');
			CHECK(colon != NULL);
			if (colon == NULL)
				break;
			*colon = '\0';
			char *key = line[0] == '"' ? line + 1 : line; /* "_1" and numbers are quoted */
			size_t kl = strlen(key);
			if (line[0] == '"' && kl > 0)
				key[kl - 1] = '\0';
			if (lines++ > 0 && yamlout_key_compare(prev, key) >= 0) {
				char m[160];
				snprintf(m, sizeof m, "%zu keys: \"%s\" before \"%s\"", nkeys, prev, key);
				unit_fail(__FILE__, __LINE__, m);
			}
			snprintf(prev, sizeof prev, "%s", key);
		}
		CHECK(lines == json_object_size(obj));
		buf_free(&b);
		check_json_like_jansson(obj, true);
		json_decref(obj);
	}
}

/* Every byte value at every position of a 16-byte string, so each lane of
 * the eight-byte test and the byte loop both meet it: inside a string of
 * letters, a byte keeps the string plain exactly when it is printable ASCII
 * (':' and '#' included, as no space touches them). */
TEST(yamlout_plain_check_agrees_for_every_byte_at_every_position)
{
	char s[17];
	for (int pos = 1; pos < 15; pos++) {
		for (int b = 0; b < 256; b++) {
			memset(s, 'a', 16);
			s[16] = '\0';
			s[pos] = (char)b;
			bool want = b >= 0x20 && b < 0x7F;
			if (yamlout_plain_ok(s, 16) != want) {
				char m[96];
				snprintf(m, sizeof m, "byte 0x%02x at %d: want %s", b, pos,
				         want ? "plain" : "quoted");
				unit_fail(__FILE__, __LINE__, m);
			}
		}
	}
	/* ": " and " #" across the boundary of two eight-byte words. */
	CHECK(!yamlout_plain_ok("abcdefg: ijklmno", 16));
	CHECK(!yamlout_plain_ok("abcdefg #ijklmno", 16));
	CHECK(yamlout_plain_ok("abcdefg:hijklmno", 16));
	CHECK(yamlout_plain_ok("abcdefgh#ijklmno", 16));
}
