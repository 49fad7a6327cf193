// object_ktest.cc — in-kernel tests of process quotas: a process is charged to
// its creator, its quota nests in its creator's, and a thread is charged to
// its process until the Thread is destroyed (which may be after the process).
// The processes here never run a thread.
#include <arch/x86_64/layout.h>
#include <object/process.h>
#include <test/ktest.h>

namespace {

ktl::Result<ktl::RefPtr<object::Process>> make_process(const char* name, object::Process* creator) {
  size_t n = 0;
  while (name[n]) ++n;
  return object::Process::create(name, n, creator);
}

}  // namespace

KTEST(quota, process_is_charged_to_its_creator_and_nests) {
  auto root = make_process("kt-qroot", nullptr);
  KASSERT_OK(root);
  object::Quota& rq = (*root)->quota();
  KEXPECT(rq.parent() == nullptr);
  KEXPECT_EQ(rq.limit_objects(), object::Process::kRootQuotaObjects);  // a root: the machine's
  const uint64_t bytes0 = rq.used_bytes();
  const uint32_t objects0 = rq.used_objects();
  KEXPECT(objects0 >= 1u);  // its address space

  auto child = make_process("kt-qchild", root->get());
  KASSERT_OK(child);
  object::Quota& cq = (*child)->quota();
  KEXPECT(cq.parent() == &rq);
  KEXPECT((*child)->KernelObject::quota() == &rq);  // the Process object itself
  // The Process (and its Quota) in the creator's quota; the child's own
  // charges (its address space) in both.
  KEXPECT_EQ(rq.used_objects(), objects0 + 1 + cq.used_objects());
  KEXPECT_EQ(rq.used_bytes(), bytes0 + object::Process::charge_bytes() + cq.used_bytes());

  // A grandchild counts at every level.
  const uint64_t child_bytes = cq.used_bytes();
  auto grandchild = make_process("kt-qgrand", child->get());
  KASSERT_OK(grandchild);
  KEXPECT(cq.used_bytes() > child_bytes + object::Process::charge_bytes());
  KEXPECT_EQ(rq.used_bytes(), bytes0 + object::Process::charge_bytes() + cq.used_bytes());

  grandchild->reset();
  KEXPECT_EQ(cq.used_bytes(), child_bytes);
  child->reset();
  KEXPECT_EQ(rq.used_bytes(), bytes0);
  KEXPECT_EQ(rq.used_objects(), objects0);
}

KTEST(quota, threads_are_charged_and_limits_hold) {
  auto root = make_process("kt-qroot", nullptr);
  KASSERT_OK(root);
  auto child = make_process("kt-qchild", root->get());
  KASSERT_OK(child);
  object::Quota& rq = (*root)->quota();
  object::Quota& cq = (*child)->quota();
  const uint64_t root_bytes = rq.used_bytes();
  const uint64_t child_bytes = cq.used_bytes();
  const uint32_t child_objects = cq.used_objects();

  const uint64_t per_thread = object::Process::thread_charge_bytes();
  KEXPECT(per_thread > KSTACK_SIZE);
  auto t = (*child)->create_thread("kt-t", 4, 0, 0, 0);
  KASSERT_OK(t);
  KEXPECT((*t)->quota() == &cq);
  KEXPECT_EQ((*t)->charged_bytes(), per_thread);
  KEXPECT_EQ(cq.used_bytes(), child_bytes + per_thread);
  KEXPECT_EQ(cq.used_objects(), child_objects + 1);
  KEXPECT_EQ(rq.used_bytes(), root_bytes + per_thread);

  // Limits lowered to the usage: neither a thread nor a process fits, in the
  // child or through it; nothing is left charged by the refusals.
  KASSERT_OK(cq.lower_limits(cq.used_bytes(), cq.used_objects()));
  KEXPECT_EQ((*child)->create_thread("kt-t2", 5, 0, 0, 0).error(), ktl::Error::QuotaExceeded);
  KEXPECT_EQ(make_process("kt-qno", child->get()).error(), ktl::Error::QuotaExceeded);
  KEXPECT_EQ(cq.used_bytes(), child_bytes + per_thread);
  KEXPECT_EQ(rq.used_bytes(), root_bytes + per_thread);
  // Raising is refused.
  KEXPECT_EQ(cq.lower_limits(cq.limit_bytes() + 1, cq.limit_objects()).error(), ktl::Error::InvalidArgument);

  // The thread outlives its process: the process exits (dropping its list's
  // reference to the unstarted thread) and our reference to it goes; the
  // thread still holds the process, then the quota, and returns the charge
  // when it is destroyed.
  (*child)->kill(0);
  KEXPECT((*child)->exited());
  child->reset();
  KEXPECT(rq.used_bytes() > root_bytes - child_bytes - object::Process::charge_bytes());  // the thread's
  t->reset();
  KEXPECT_EQ(rq.used_bytes(), root_bytes - child_bytes - object::Process::charge_bytes());
}
