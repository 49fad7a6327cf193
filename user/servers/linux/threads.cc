// linux/threads.cc — threads and futexes (not built yet).
#include "internal.h"

namespace linux_srv {

bool dispatch_threads(Thread&, UserRegs&, Result*) { return false; }

}  // namespace linux_srv
