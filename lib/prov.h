/* prov.h — Helm provenance files (.prov): a PGP clear-signed message whose
 * body is the chart's Chart.yaml, "...", and a "files:" map of
 * "<name>-<version>.tgz: sha256:<hex>". */
#ifndef CD_PROV_H
#define CD_PROV_H

#include <stddef.h>
#include "cd_err.h"

struct prov_info {
	char name[256];     /* chart name from the signed Chart.yaml */
	char version[256];  /* chart version from it */
	char file[600];     /* the tarball file name in files: */
	char sha256[65];    /* its hex digest */
};

/* Parses and checks the structure (BEGIN PGP SIGNED MESSAGE, body, BEGIN and
 * END PGP SIGNATURE).  The signature itself is not verified: that is the
 * client's job with its keyring.  CD_EINVAL saying what is missing. */
cd_rc prov_parse(const char *buf, size_t len, struct prov_info *out, cd_err *err);

#endif
