
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_B64_H_INCLUDED_
#define _NGX_OIDC_B64_H_INCLUDED_


#include "ngx_oidc_types.h"


/* an upper bound of the decoded size of "len" base64url characters */
#define ngx_oidc_b64url_decoded_len(len)  (((len) + 3) / 4 * 3)

/* the exact encoded size, without padding */
#define ngx_oidc_b64url_encoded_len(len)  (((len) * 4 + 2) / 3)


/*
 * Encodes "len" bytes without padding into "dst", which must hold
 * ngx_oidc_b64url_encoded_len(len) bytes.  Returns the length written.
 */
size_t ngx_oidc_b64url_encode(unsigned char *dst, const unsigned char *src,
    size_t len);

/*
 * Strict RFC 7515 base64url decoding: the URL-safe alphabet only, no
 * padding, no whitespace, and the unused bits of the last character
 * must be zero (one encoding per value).  "dst" must hold
 * ngx_oidc_b64url_decoded_len(len) bytes; *dst_len gets the size.
 * Returns NGX_OIDC_OK or NGX_OIDC_DECLINED.
 */
int ngx_oidc_b64url_decode(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len);

/* constant-time comparison of two buffers of the same length: 1 if equal */
int ngx_oidc_ct_equal(const void *a, const void *b, size_t len);


#endif /* _NGX_OIDC_B64_H_INCLUDED_ */
