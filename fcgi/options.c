/* options.c — ARTIFACT_HUB_REPO_ID, read by the worker (see options.h). */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "storage.h"

/* An id is written into YAML and compared by Artifact Hub as given: any
 * printable ASCII except the separators of the pairs syntax. */
static bool ahub_id_valid(const char *id, size_t n)
{
	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == ',' || id[i] == '=')
			return false;
	return true;
}

static cd_rc ahub_add(struct fcgi_options *o, const char *repo, size_t rlen, const char *id,
                      size_t ilen, cd_err *err)
{
	struct ahub_id *n = realloc(o->ahub, (o->nahub + 1) * sizeof *n);
	if (n == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	o->ahub = n;
	n[o->nahub].repo = strndup(repo, rlen);
	n[o->nahub].id = strndup(id, ilen);
	o->nahub++;
	if (n[o->nahub - 1].repo == NULL || n[o->nahub - 1].id == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	return CD_OK;
}

/* "id" (the depth-0 repo) or "repo=id[,repo=id...]"; spaces around
 * entries are ignored. */
static cd_rc ahub_parse(struct fcgi_options *o, const struct cd_config *cfg, const char *v,
                        cd_err *err)
{
	const char *p = v;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *e = p, *end = p + n;
		while (e < end && *e == ' ')
			e++;
		while (end > e && end[-1] == ' ')
			end--;
		const char *eq = memchr(e, '=', (size_t)(end - e));
		const char *repo = "", *id = e;
		size_t rlen = 0, ilen = (size_t)(end - e);
		if (eq != NULL) {
			repo = e;
			rlen = (size_t)(eq - e);
			id = eq + 1;
			ilen = (size_t)(end - id);
		}
		if (e == end)
			return cd_fail(err, CD_EINVAL, "ARTIFACT_HUB_REPO_ID: empty entry in \"%s\"", v);
		char *key = strndup(repo, rlen);
		if (key == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		bool ok = cfg->depth_dynamic ? storage_repo_key_valid(key)
		                             : storage_repo_valid(key, cfg->depth);
		free(key);
		if (!ok) {
			if (eq == NULL)
				return cd_fail(err, CD_EINVAL, "ARTIFACT_HUB_REPO_ID: a bare id fits "
				               "DEPTH=0 only; give repo=id pairs for DEPTH=%d",
				               cfg->depth);
			return cd_fail(err, CD_EINVAL, "ARTIFACT_HUB_REPO_ID: \"%.*s\" is not a "
			               "repo of DEPTH=%d", (int)rlen, repo, cfg->depth);
		}
		if (!ahub_id_valid(id, ilen))
			return cd_fail(err, CD_EINVAL, "ARTIFACT_HUB_REPO_ID: bad repository id "
			               "\"%.*s\"", (int)ilen, id);
		for (size_t i = 0; i < o->nahub; i++)
			if (strlen(o->ahub[i].repo) == rlen && memcmp(o->ahub[i].repo, repo, rlen) == 0)
				return cd_fail(err, CD_EINVAL, "ARTIFACT_HUB_REPO_ID: repo \"%.*s\" is "
				               "given twice", (int)rlen, repo);
		cd_rc rc = ahub_add(o, repo, rlen, id, ilen, err);
		if (rc != CD_OK)
			return rc;
		p += n;
		if (*p == ',')
			p++;
	}
	return CD_OK;
}

cd_rc options_load(struct fcgi_options *o, const struct cd_config *cfg, cd_err *err)
{
	memset(o, 0, sizeof *o);
	const char *v = cfg->artifact_hub_repo_id;
	if (v == NULL || v[0] == '\0')
		return CD_OK;
	cd_rc rc = ahub_parse(o, cfg, v, err);
	if (rc != CD_OK)
		options_free(o);
	return rc;
}

void options_free(struct fcgi_options *o)
{
	for (size_t i = 0; i < o->nahub; i++) {
		free(o->ahub[i].repo);
		free(o->ahub[i].id);
	}
	free(o->ahub);
	memset(o, 0, sizeof *o);
}

const char *options_ahub_id(const struct fcgi_options *o, const char *repo)
{
	for (size_t i = 0; i < o->nahub; i++)
		if (strcmp(o->ahub[i].repo, repo) == 0)
			return o->ahub[i].id;
	return NULL;
}
