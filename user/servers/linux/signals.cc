// linux/signals.cc — signals: actions, masks, delivery (not built yet: sigaction and sigprocmask are in main.cc).
#include "internal.h"

namespace linux_srv {

bool dispatch_signals(Thread&, UserRegs&, Result*) { return false; }

}  // namespace linux_srv
