/*
 * A QR code as an image, for the devices API's <name>/qr: the helper
 * publishes the text of the QR the phone must scan, a worker renders it
 * (libqrencode for the modules, libpng for the PNG) into a buffer of its
 * own.  The text is a secret of the moment: never logged.
 */

#ifndef CHATWOOT_QR_H
#define CHATWOOT_QR_H

#include <stddef.h>

#include "chatwoot_abi.h"

CW_BEGIN_DECLS


typedef enum {
    CW_QR_PNG = 0,              /* image/png, 1-bit grey */
    CW_QR_SVG                   /* image/svg+xml */
} cw_qr_format_t;

/*
 * Renders text (len bytes, taken as bytes) as a QR code image in format.
 * Returns the image's length: written into buf when it is at most cap,
 * else nothing is written and the caller tries again with that much room.
 * 0 when text cannot be a QR code (empty, too long for one) or memory ran
 * out.
 */
size_t cw_qr_render(const char *text, size_t len, unsigned format,
    unsigned char *buf, size_t cap) CW_NOEXCEPT;


CW_END_DECLS

#endif /* CHATWOOT_QR_H */
