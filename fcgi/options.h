/* options.h — settings the worker interprets beyond lib/config.h:
 * ARTIFACT_HUB_REPO_ID (cfg->artifact_hub_repo_id, ChartMuseum's: one id
 * for DEPTH=0, or "repo=id,repo2=id2" pairs for named repos).  Parsed once
 * by the master; a malformed value stops it at start with a message naming
 * the variable. */
#ifndef CD_OPTIONS_H
#define CD_OPTIONS_H

#include <stddef.h>
#include "cd_err.h"
#include "config.h"

struct ahub_id {
	char *repo;   /* "" for the depth-0 repo */
	char *id;
};

struct fcgi_options {
	struct ahub_id *ahub;  /* ARTIFACT_HUB_REPO_ID entries */
	size_t nahub;
};

/* Fills o from cfg, checking repo keys against its DEPTH.  On failure err
 * names the variable and nothing needs freeing. */
cd_rc options_load(struct fcgi_options *o, const struct cd_config *cfg, cd_err *err);
void options_free(struct fcgi_options *o);

/* The Artifact Hub repository ID of repo, NULL when none is configured. */
const char *options_ahub_id(const struct fcgi_options *o, const char *repo);

#endif
