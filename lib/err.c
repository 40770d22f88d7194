/* err.c — cd_rc helpers. */
#include "cd_err.h"

#include <stdarg.h>
#include <stdio.h>

cd_rc cd_fail(cd_err *err, cd_rc rc, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int cd_rc_http_status(cd_rc rc)
{
	switch (rc) {
	case CD_OK: return 200;
	case CD_EINVAL: return 400;
	case CD_EAUTH: return 401;
	case CD_ENOTFOUND: return 404;
	case CD_EMETHOD: return 405;
	case CD_EEXIST: return 409;
	case CD_ETOOBIG: return 413;
	case CD_ENOSPC: return 507;
	case CD_ELIMIT: return 507;
	case CD_EBUSY: return 503;
	case CD_ERATE: return 429;
	case CD_EIO: case CD_EDB: case CD_ENOMEM: return 500;
	}
	return 500;
}

const char *cd_rc_name(cd_rc rc)
{
	static const char *const names[] = {
		"OK", "EINVAL", "EAUTH", "ENOTFOUND", "EMETHOD", "EEXIST",
		"ETOOBIG", "ENOSPC", "ELIMIT", "EIO", "EDB", "ENOMEM", "EBUSY",
		"ERATE",
	};
	if ((unsigned)rc < sizeof names / sizeof names[0])
		return names[rc];
	return "E?";
}
