/* fcgi_stub.h — what tests/fuzz/fcgi_stub.c provides to the harnesses that
 * compile fcgi/ code: a fake CGI environment read from the input, libfcgi's
 * stream calls (the response is captured in fuzz_out, the request body is
 * empty) and the route handlers (each fails with FUZZ_HANDLER_RC, so a
 * harness can tell that one ran). */
#ifndef CD_FCGI_STUB_H
#define CD_FCGI_STUB_H

#include <stddef.h>
#include <stdint.h>
#include "cd_err.h"

#define FUZZ_OUT_MAX 65536
#define FUZZ_HANDLER_RC CD_ELIMIT

extern char fuzz_out[FUZZ_OUT_MAX + 1];
extern size_t fuzz_out_len;
extern int fuzz_handler_calls;

/* Empties fuzz_out and zeroes fuzz_handler_calls. */
void fuzz_stub_reset(void);

/* The fake environment: NAME=value lines (the first '=' splits, a value
 * ends at its line's end or a NUL; later lines win, as nginx's last
 * fastcgi_param would).  fuzz_env_get is a req_param_fn. */
void fuzz_env_parse(const uint8_t *data, size_t size);
const char *fuzz_env_get(const char *name, void *ctx);
void fuzz_env_free(void);

#endif
