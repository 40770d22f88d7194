/* fuzz_chart_yaml.c — chart_parse_yaml on Chart.yaml text, then
 * chart_validate_meta on what it produced; the fast YAML reader against
 * libyaml on the same text.  Metadata that validates must
 * have the name and version chart_read would store. */
#include "fuzz.h"
#include "chart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *meta = NULL;
	cd_err err;
	char *text = malloc(size ? size : 1);
	if (text == NULL)
		abort();
	if (size)
		memcpy(text, data, size);
	/* The fast YAML reader builds libyaml's tree or leaves the text to it. */
	FUZZ_CHECK(chart_yaml_fast_agrees(text, size) >= 0);
	cd_rc rc = chart_parse_yaml(text, size, &meta, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(json_is_object(meta));
		FUZZ_CHECK(json_is_string(json_object_get(meta, "apiVersion")));
		if (chart_validate_meta(meta, &err) == CD_OK) {
			const char *name = json_string_value(json_object_get(meta, "name"));
			const char *version = json_string_value(json_object_get(meta, "version"));
			FUZZ_CHECK(name != NULL && *name != '\0' && strchr(name, '/') == NULL);
			FUZZ_CHECK(version != NULL && *version != '\0');
			FUZZ_CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
			char *file = chart_filename(name, version);
			FUZZ_CHECK(file != NULL);
			free(file);
		}
		/* Serialising must work for every parsed value (it is stored). */
		char *s = json_dumps(meta, JSON_COMPACT);
		FUZZ_CHECK(s != NULL);
		free(s);
		json_decref(meta);
	} else {
		FUZZ_CHECK(meta == NULL);
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}
	/* chart_validate_meta also sees hand-made JSON in the store. */
	json_t *j = json_loadb(text, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, NULL);
	if (j != NULL) {
		(void)chart_validate_meta(j, &err);
		json_decref(j);
	}
	free(text);
	return 0;
}
