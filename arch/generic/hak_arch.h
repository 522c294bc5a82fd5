/* CPU shim for a CPU with no shim of its own: everything comes from the fallbacks. */
#ifndef HAK_ARCH_H
#define HAK_ARCH_H

#define HAK_ARCH_NAME "generic"
#include "generic/hak_arch_fallback.h"
#endif
