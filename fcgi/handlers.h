/* handlers.h — one function per route; see route.c for the table. */
#ifndef CD_HANDLERS_H
#define CD_HANDLERS_H

#include "cd_err.h"
#include "request.h"

/* h_misc.c */
cd_rc h_root(struct req *r, cd_err *err);
cd_rc h_health(struct req *r, cd_err *err);
cd_rc h_info(struct req *r, cd_err *err);
cd_rc h_metrics(struct req *r, cd_err *err);

/* h_repo.c */
cd_rc h_index(struct req *r, cd_err *err);
cd_rc h_chart_file(struct req *r, cd_err *err);
cd_rc h_artifacthub(struct req *r, cd_err *err);

/* h_api.c */
cd_rc h_api_list(struct req *r, cd_err *err);
cd_rc h_api_chart(struct req *r, cd_err *err);
cd_rc h_api_version(struct req *r, cd_err *err);
cd_rc h_api_delete(struct req *r, cd_err *err);
cd_rc h_api_templates(struct req *r, cd_err *err);
cd_rc h_api_values(struct req *r, cd_err *err);
/* The delete of an indexed version, row and files in one write
 * transaction (see h_api.c); CD_ENOTFOUND when the row is gone. */
cd_rc h_delete_indexed(struct req *r, const char *name, const char *version,
                       const char *file, cd_err *err);

/* h_upload.c */
cd_rc h_upload_chart(struct req *r, cd_err *err);
cd_rc h_upload_prov(struct req *r, cd_err *err);

#endif
