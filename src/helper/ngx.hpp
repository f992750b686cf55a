// nginx's headers for the C++ files that run inside the helper process.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
}
