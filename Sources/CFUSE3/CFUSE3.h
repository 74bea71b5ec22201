// libfuse 3's low-level API, the version this project is written against.
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
