/* cd_err.h — the one error type of chartdepot.
 *
 * Every fallible function returns a cd_rc and, on failure, writes a message
 * for the client or operator into a cd_err.  Messages name what was wrong
 * with the input; they never contain a server path or a secret. */
#ifndef CD_ERR_H
#define CD_ERR_H

typedef enum {
	CD_OK = 0,
	CD_EINVAL,    /* bad input from the client           -> 400 */
	CD_EAUTH,     /* missing or wrong credentials        -> 401 */
	CD_ENOTFOUND, /* no such chart, version or route     -> 404 */
	CD_EMETHOD,   /* method not allowed on this route    -> 405 */
	CD_EEXIST,    /* would overwrite and may not         -> 409 */
	CD_ETOOBIG,   /* body or archive over a size limit   -> 413 */
	CD_ENOSPC,    /* the disk is full                    -> 507 */
	CD_ELIMIT,    /* repo reached MAX_STORAGE_OBJECTS    -> 507 */
	CD_EIO,       /* file system error                   -> 500 */
	CD_EDB,       /* SQLite error                        -> 500 */
	CD_ENOMEM,    /* allocation failed                   -> 500 */
	CD_EBUSY,     /* database busy past its timeout      -> 503 */
	CD_ERATE,     /* too many failed logins from one address -> 429 */
} cd_rc;

typedef struct {
	char msg[512];
} cd_err;

/* Records a formatted message in err (which may be NULL) and returns rc,
 * so callers can write `return cd_fail(err, CD_EINVAL, "...")`. */
cd_rc cd_fail(cd_err *err, cd_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The HTTP status that an error of this kind becomes. */
int cd_rc_http_status(cd_rc rc);

/* A short stable name ("EINVAL") for logs and tests. */
const char *cd_rc_name(cd_rc rc);

#endif
