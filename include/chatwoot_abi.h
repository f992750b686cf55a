/*
 * What every header of the C ABI between the glue and the C++ core shares:
 * functions are noexcept when seen from C++ (no exception ever crosses a C
 * frame) and have C linkage.
 */

#ifndef CHATWOOT_ABI_H
#define CHATWOOT_ABI_H

#ifdef __cplusplus
#define CW_NOEXCEPT noexcept
#define CW_BEGIN_DECLS extern "C" {
#define CW_END_DECLS }
#else
#define CW_NOEXCEPT
#define CW_BEGIN_DECLS
#define CW_END_DECLS
#endif

#endif /* CHATWOOT_ABI_H */
