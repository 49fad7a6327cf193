// linux/tty.cc — terminals: the console tty and its ioctls (not built yet: the console is a log sink, ioctl in files.cc).
#include "internal.h"

namespace linux_srv {

bool dispatch_tty(Thread&, UserRegs&, Result*) { return false; }

}  // namespace linux_srv
