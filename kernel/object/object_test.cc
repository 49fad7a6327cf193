// object/object_test.cc — host tests for ktl::RefPtr, KernelObject, downcast,
// Quota and rights.
#include <object/object.h>
#include <object/quota.h>
#include <object/rights.h>

#include <ktl/ref_ptr.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace mm {
extern bool g_kmalloc_fail_next;  // tests/host/support/kmalloc_shim.cc
}

namespace object {
namespace {

// What happened to the test objects, counted.
struct Counters {
  std::atomic<int> destroyed{0};
  std::atomic<int> zero_handles{0};
};

// The create() pattern: private constructor, fallible static factory.
class TestObject final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Test;

  static ktl::Result<ktl::RefPtr<TestObject>> create(Counters* counters, Quota* quota = nullptr) {
    if (quota != nullptr) TRY(quota->charge(sizeof(TestObject)));
    TestObject* obj = new (std::nothrow) TestObject(counters, quota);
    if (obj == nullptr) {
      if (quota != nullptr) quota->uncharge(sizeof(TestObject));
      return ktl::Error::NoMemory;
    }
    return ktl::adopt_ref(obj);
  }

  ~TestObject() override { counters_->destroyed++; }

  int payload = 42;

 private:
  TestObject(Counters* counters, Quota* quota)
      : KernelObject(kType, quota, quota != nullptr ? sizeof(TestObject) : 0), counters_(counters) {}
  void on_zero_handles() override { counters_->zero_handles++; }

  Counters* counters_;
};

// A second type, to get downcasts wrong on purpose.
class FakeEndpoint final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Endpoint;
  static ktl::Result<ktl::RefPtr<FakeEndpoint>> create(Counters* counters) {
    FakeEndpoint* obj = new (std::nothrow) FakeEndpoint(counters);
    if (obj == nullptr) return ktl::Error::NoMemory;
    return ktl::adopt_ref(obj);
  }
  ~FakeEndpoint() override { counters_->destroyed++; }

 private:
  explicit FakeEndpoint(Counters* counters) : KernelObject(kType), counters_(counters) {}
  Counters* counters_;
};

// Two bases, KernelObject second: destruction must still free the address
// that was allocated (ASan reports a bad free otherwise).
struct OtherBase {
  virtual ~OtherBase() = default;
  uint64_t other = 7;
};
class MultiObject final : public OtherBase, public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Test;
  static ktl::RefPtr<MultiObject> create(Counters* counters) {
    return ktl::adopt_ref(new (std::nothrow) MultiObject(counters));
  }
  ~MultiObject() override { counters_->destroyed++; }

 private:
  explicit MultiObject(Counters* counters) : KernelObject(kType), counters_(counters) {}
  Counters* counters_;
};

ktl::RefPtr<TestObject> make(Counters* counters) {
  auto r = TestObject::create(counters);
  EXPECT_TRUE(r.ok());
  return r.release_value();
}

// ---- RefPtr on a plain ref-counted type (not a KernelObject) ----

struct Plain {
  int refs = 1;
  int* released;
  explicit Plain(int* r) : released(r) {}
  void ref() { ++refs; }
  bool unref() { return --refs == 0; }
  static void release(Plain* p) {
    ++*p->released;
    delete p;
  }
};

struct DerivedPlain : Plain {
  using Plain::Plain;
};

TEST(RefPtr, AdoptCopyMoveReset) {
  int released = 0;
  Plain* raw = new Plain(&released);
  {
    ktl::RefPtr<Plain> a = ktl::adopt_ref(raw);
    EXPECT_EQ(raw->refs, 1);  // adopt takes the creator's reference
    ktl::RefPtr<Plain> b = a;
    EXPECT_EQ(raw->refs, 2);
    ktl::RefPtr<Plain> c = std::move(b);
    EXPECT_EQ(raw->refs, 2);  // moves do not touch the count
    EXPECT_FALSE(b);
    EXPECT_EQ(c.get(), raw);
    EXPECT_EQ(a, c);
    EXPECT_TRUE(b == nullptr);
    EXPECT_TRUE(a != nullptr);
    c.reset();
    EXPECT_FALSE(c);
    EXPECT_EQ(raw->refs, 1);
    EXPECT_EQ(released, 0);
    ktl::RefPtr<Plain>& alias = a;  // (an alias: clang rejects plain a = a)
    a = alias;                      // self-assignment keeps the object
    EXPECT_EQ(raw->refs, 1);
    a = std::move(alias);
    EXPECT_EQ(released, 0);
    EXPECT_EQ(a.get(), raw);
  }
  EXPECT_EQ(released, 1);
}

TEST(RefPtr, AssignReleasesOldObject) {
  int released = 0;
  ktl::RefPtr<Plain> a = ktl::adopt_ref(new Plain(&released));
  ktl::RefPtr<Plain> b = ktl::adopt_ref(new Plain(&released));
  Plain* braw = b.get();
  a = b;
  EXPECT_EQ(released, 1);
  EXPECT_EQ(braw->refs, 2);
  a = nullptr;
  EXPECT_EQ(braw->refs, 1);
  b = ktl::RefPtr<Plain>();
  EXPECT_EQ(released, 2);
}

TEST(RefPtr, LeakAndReadopt) {
  int released = 0;
  ktl::RefPtr<Plain> a = ktl::adopt_ref(new Plain(&released));
  Plain* raw = a.leak_ref();
  EXPECT_FALSE(a);
  EXPECT_EQ(raw->refs, 1);
  EXPECT_EQ(released, 0);
  ktl::RefPtr<Plain> b = ktl::adopt_ref(raw);
  b.reset();
  EXPECT_EQ(released, 1);
}

TEST(RefPtr, RawPointerConstructorAddsReference) {
  int released = 0;
  ktl::RefPtr<Plain> a = ktl::adopt_ref(new Plain(&released));
  ktl::RefPtr<Plain> b(a.get());
  EXPECT_EQ(a->refs, 2);
  a.reset();
  EXPECT_EQ(released, 0);
  b.reset();
  EXPECT_EQ(released, 1);
  ktl::RefPtr<Plain> null_ptr(static_cast<Plain*>(nullptr));
  EXPECT_FALSE(null_ptr);
}

TEST(RefPtr, DerivedToBase) {
  int released = 0;
  ktl::RefPtr<DerivedPlain> d = ktl::adopt_ref(new DerivedPlain(&released));
  ktl::RefPtr<Plain> copy = d;  // copy: one more reference
  EXPECT_EQ(d->refs, 2);
  ktl::RefPtr<Plain> moved = std::move(d);  // move: no count traffic
  EXPECT_FALSE(d);
  EXPECT_EQ(moved->refs, 2);
  EXPECT_EQ(copy, moved);
  ktl::RefPtr<Plain> assigned;
  assigned = ktl::adopt_ref(new DerivedPlain(&released));
  copy.reset();
  moved.reset();
  EXPECT_EQ(released, 1);
  assigned.reset();
  EXPECT_EQ(released, 2);
}

// RefPtr<T> as a member of T itself: T is incomplete where RefPtr<T> is declared.
struct Node {
  int refs = 1;
  int* released;
  ktl::RefPtr<Node> next;
  explicit Node(int* r) : released(r) {}
  void ref() { ++refs; }
  bool unref() { return --refs == 0; }
  static void release(Node* n) {
    ++*n->released;
    delete n;
  }
};

TEST(RefPtr, IncompleteTypeChain) {
  int released = 0;
  ktl::RefPtr<Node> head = ktl::adopt_ref(new Node(&released));
  head->next = ktl::adopt_ref(new Node(&released));
  head->next->next = ktl::adopt_ref(new Node(&released));
  head.reset();  // the chain unwinds
  EXPECT_EQ(released, 3);
}

// ---- KernelObject ----

TEST(KernelObject, CreateRefcountDestroyExactlyOnce) {
  Counters counters;
  {
    ktl::RefPtr<TestObject> a = make(&counters);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->ref_count(), 1u);
    EXPECT_TRUE(a->valid());
    EXPECT_EQ(a->type(), ObjectType::Test);
    EXPECT_EQ(a->payload, 42);
    ktl::RefPtr<KernelObject> b = a;
    ktl::RefPtr<KernelObject> c = b;
    EXPECT_EQ(a->ref_count(), 3u);
    a.reset();
    b.reset();
    EXPECT_EQ(counters.destroyed, 0);
    EXPECT_EQ(c->ref_count(), 1u);
    EXPECT_TRUE(c->valid());
  }
  EXPECT_EQ(counters.destroyed, 1);
}

TEST(KernelObject, CreateFailsWithNoMemory) {
  Counters counters;
  mm::g_kmalloc_fail_next = true;
  auto r = TestObject::create(&counters);
  EXPECT_EQ(r.error(), ktl::Error::NoMemory);
  EXPECT_FALSE(mm::g_kmalloc_fail_next);
  EXPECT_EQ(counters.destroyed, 0);  // no constructor ran, so no destructor
}

TEST(KernelObject, MultipleInheritanceFreesTheAllocation) {
  Counters counters;
  ktl::RefPtr<MultiObject> m = MultiObject::create(&counters);
  ASSERT_TRUE(m);
  ktl::RefPtr<KernelObject> base = std::move(m);
  // The KernelObject part does not start where the allocation does.
  EXPECT_NE(static_cast<void*>(base.get()), static_cast<void*>(static_cast<MultiObject*>(base.get())));
  base.reset();  // ASan: kfree must get the allocated address, not the base's
  EXPECT_EQ(counters.destroyed, 1);
}

TEST(KernelObject, KoidsAreUniqueAndIncreasing) {
  Counters counters;
  std::vector<ktl::RefPtr<TestObject>> objects;
  for (int i = 0; i < 10; ++i) objects.push_back(make(&counters));
  for (size_t i = 1; i < objects.size(); ++i) {
    EXPECT_GT(objects[i]->id(), objects[i - 1]->id());
  }
  EXPECT_NE(objects[0]->id(), 0u);
}

TEST(KernelObject, ZeroHandlesHookFiresOnLastHandle) {
  Counters counters;
  ktl::RefPtr<TestObject> obj = make(&counters);
  obj->on_handle_added();
  obj->on_handle_added();
  EXPECT_EQ(obj->handle_count(), 2u);
  obj->on_handle_removed();
  EXPECT_EQ(counters.zero_handles, 0);
  obj->on_handle_removed();
  EXPECT_EQ(counters.zero_handles, 1);
  EXPECT_EQ(obj->handle_count(), 0u);
  EXPECT_EQ(counters.destroyed, 0);  // zero handles is not zero references
}

TEST(KernelObject, TypeNames) {
  EXPECT_STREQ(type_name(ObjectType::Process), "Process");
  EXPECT_STREQ(type_name(ObjectType::Endpoint), "Endpoint");
  EXPECT_STREQ(type_name(ObjectType::DeviceMemory), "DeviceMemory");
  EXPECT_STREQ(type_name(ObjectType::Test), "Test");
  EXPECT_STREQ(type_name(static_cast<ObjectType>(200)), "Unknown");
}

TEST(Downcast, RightWrongAndNull) {
  Counters counters;
  ktl::RefPtr<KernelObject> test_obj = make(&counters);
  ktl::RefPtr<KernelObject> endpoint = FakeEndpoint::create(&counters).release_value();

  ktl::RefPtr<TestObject> t = downcast<TestObject>(test_obj);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->payload, 42);
  EXPECT_EQ(t->ref_count(), 2u);

  EXPECT_FALSE(downcast<TestObject>(endpoint));
  EXPECT_FALSE(downcast<FakeEndpoint>(test_obj));
  EXPECT_EQ(endpoint->ref_count(), 1u);  // the failed downcast dropped its copy
  EXPECT_TRUE(downcast<FakeEndpoint>(endpoint));
  EXPECT_FALSE(downcast<TestObject>(ktl::RefPtr<KernelObject>()));
  EXPECT_EQ(downcast<KernelObject>(endpoint), endpoint);

  // Moving in transfers the reference without count traffic.
  ktl::RefPtr<FakeEndpoint> e = downcast<FakeEndpoint>(std::move(endpoint));
  EXPECT_FALSE(endpoint);
  EXPECT_EQ(e->ref_count(), 1u);
  e.reset();
  t.reset();
  test_obj.reset();
  EXPECT_EQ(counters.destroyed, 2);
}

// ---- Quota ----

TEST(Quota, ChargedForTheObjectsLifetime) {
  Counters counters;
  Quota quota(1024, 10);
  {
    ktl::RefPtr<TestObject> a = TestObject::create(&counters, &quota).release_value();
    EXPECT_EQ(quota.used_bytes(), sizeof(TestObject));
    EXPECT_EQ(quota.used_objects(), 1u);
    EXPECT_EQ(a->quota(), &quota);
    EXPECT_EQ(a->charged_bytes(), sizeof(TestObject));
  }
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);
}

TEST(Quota, ObjectLimit) {
  Counters counters;
  Quota quota(1 << 20, 2);
  auto a = TestObject::create(&counters, &quota);
  auto b = TestObject::create(&counters, &quota);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  auto c = TestObject::create(&counters, &quota);
  EXPECT_EQ(c.error(), ktl::Error::QuotaExceeded);
  EXPECT_EQ(quota.used_objects(), 2u);
  a->reset();
  EXPECT_TRUE(TestObject::create(&counters, &quota).ok());
}

TEST(Quota, ByteLimitNeverPartial) {
  Quota quota(100, 10);
  EXPECT_TRUE(quota.charge(60).ok());
  EXPECT_EQ(quota.charge(41).error(), ktl::Error::QuotaExceeded);
  EXPECT_EQ(quota.used_bytes(), 60u);  // nothing of the refused charge remains
  EXPECT_EQ(quota.used_objects(), 1u);
  EXPECT_TRUE(quota.charge(40).ok());
  EXPECT_EQ(quota.used_bytes(), 100u);
  EXPECT_EQ(quota.charge(UINT64_MAX).error(), ktl::Error::QuotaExceeded);  // no overflow
  quota.uncharge(60);
  quota.uncharge(40);
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);
}

TEST(Quota, NoMemoryReturnsTheCharge) {
  Counters counters;
  Quota quota(1024, 10);
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(TestObject::create(&counters, &quota).error(), ktl::Error::NoMemory);
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);
}

TEST(Quota, ConcurrentChargesNeverPassTheLimit) {
  constexpr uint32_t kLimitObjects = 1000;
  Quota quota(kLimitObjects * 8, kLimitObjects);
  std::atomic<uint32_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (quota.charge(8).ok()) granted++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted, kLimitObjects);
  EXPECT_EQ(quota.used_objects(), kLimitObjects);
  EXPECT_EQ(quota.used_bytes(), kLimitObjects * 8u);
}

// ---- Hierarchical quotas ----

TEST(Quota, ChargeCountsAtEveryLevel) {
  Quota root(10000, 100);
  Quota child(5000, 50, &root);
  Quota grandchild(2000, 20, &child);
  EXPECT_EQ(grandchild.parent(), &child);
  EXPECT_EQ(root.parent(), nullptr);
  ASSERT_TRUE(grandchild.charge(300).ok());
  ASSERT_TRUE(child.charge(200).ok());
  for (const Quota* q : {&root, &child}) EXPECT_EQ(q->used_bytes(), 500u);
  EXPECT_EQ(root.used_objects(), 2u);
  EXPECT_EQ(child.used_objects(), 2u);
  EXPECT_EQ(grandchild.used_bytes(), 300u);
  EXPECT_EQ(grandchild.used_objects(), 1u);
  grandchild.uncharge(300);
  child.uncharge(200);
  for (const Quota* q : {&root, &child, &grandchild}) {
    EXPECT_EQ(q->used_bytes(), 0u);
    EXPECT_EQ(q->used_objects(), 0u);
  }
}

// A charge that does not fit at one level leaves no trace at any level,
// whichever level refuses and whichever limit (bytes or objects) it is.
TEST(Quota, RefusedAtAnyLevelChargesNoLevel) {
  Quota root(1000, 10);
  Quota middle(600, 6, &root);
  Quota leaf(400, 4, &middle);
  auto expect_used = [&](uint64_t r, uint64_t m, uint64_t l) {
    EXPECT_EQ(root.used_bytes(), r);
    EXPECT_EQ(middle.used_bytes(), m);
    EXPECT_EQ(leaf.used_bytes(), l);
  };
  // The leaf's byte limit.
  EXPECT_EQ(leaf.charge(401).error(), ktl::Error::QuotaExceeded);
  expect_used(0, 0, 0);
  // The middle's byte limit: the leaf had room, and gives it back.
  ASSERT_TRUE(middle.charge(300).ok());
  EXPECT_EQ(leaf.charge(301).error(), ktl::Error::QuotaExceeded);
  expect_used(300, 300, 0);
  EXPECT_EQ(leaf.used_objects(), 0u);
  // The root's byte limit: two levels give it back.
  ASSERT_TRUE(root.charge(600).ok());
  EXPECT_EQ(leaf.charge(101).error(), ktl::Error::QuotaExceeded);
  expect_used(900, 300, 0);
  ASSERT_TRUE(leaf.charge(100).ok());  // exactly to the root's limit
  expect_used(1000, 400, 100);
  EXPECT_EQ(leaf.charge(1).error(), ktl::Error::QuotaExceeded);  // the root is full
  expect_used(1000, 400, 100);
  leaf.uncharge(100);
  root.uncharge(600);
  middle.uncharge(300);
  expect_used(0, 0, 0);

  // Object limits at each level.
  Quota objects_root(1 << 20, 3);
  Quota objects_leaf(1 << 20, 2, &objects_root);
  ASSERT_TRUE(objects_leaf.charge(1).ok());
  ASSERT_TRUE(objects_leaf.charge(1).ok());
  EXPECT_EQ(objects_leaf.charge(1).error(), ktl::Error::QuotaExceeded);  // the leaf's
  EXPECT_EQ(objects_root.used_objects(), 2u);
  objects_leaf.uncharge(1);
  ASSERT_TRUE(objects_root.charge(1).ok());
  ASSERT_TRUE(objects_root.charge(1).ok());
  EXPECT_EQ(objects_leaf.charge(1).error(), ktl::Error::QuotaExceeded);  // the root's
  EXPECT_EQ(objects_leaf.used_objects(), 1u);
  EXPECT_EQ(objects_root.used_objects(), 3u);
  objects_root.uncharge(1);
  objects_root.uncharge(1);
  objects_leaf.uncharge(1);
  EXPECT_EQ(objects_root.used_objects(), 0u);
  EXPECT_EQ(objects_leaf.used_objects(), 0u);
}

TEST(Quota, LimitsOnlyShrink) {
  Quota root(1000, 10);
  Quota child(800, 8, &root);
  EXPECT_TRUE(child.lower_limits(800, 8).ok());  // equal: kept
  EXPECT_EQ(child.lower_limits(801, 8).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(child.lower_limits(800, 9).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(child.lower_limits(100, 9).error(), ktl::Error::InvalidArgument);  // neither changes
  EXPECT_EQ(child.limit_bytes(), 800u);
  EXPECT_EQ(child.limit_objects(), 8u);
  EXPECT_TRUE(child.lower_limits(500, 5).ok());
  EXPECT_EQ(child.limit_bytes(), 500u);
  EXPECT_EQ(child.limit_objects(), 5u);
  EXPECT_EQ(root.limit_bytes(), 1000u);  // ancestors keep theirs
  EXPECT_EQ(child.lower_limits(800, 8).error(), ktl::Error::InvalidArgument);  // no way back up

  // Below the usage: accepted, and nothing more fits until enough is returned.
  ASSERT_TRUE(child.charge(200).ok());
  ASSERT_TRUE(child.charge(200).ok());
  EXPECT_TRUE(child.lower_limits(300, 5).ok());
  EXPECT_EQ(child.used_bytes(), 400u);
  EXPECT_EQ(child.charge(0).error(), ktl::Error::QuotaExceeded);
  EXPECT_EQ(child.charge(UINT64_MAX).error(), ktl::Error::QuotaExceeded);  // no wrap below the usage
  EXPECT_EQ(root.used_bytes(), 400u);
  child.uncharge(200);
  EXPECT_TRUE(child.charge(100).ok());  // 300: exactly the limit
  EXPECT_EQ(child.charge(1).error(), ktl::Error::QuotaExceeded);
  EXPECT_TRUE(child.lower_limits(300, 0).ok());
  child.uncharge(200);
  EXPECT_EQ(child.charge(1).error(), ktl::Error::QuotaExceeded);  // no objects at all now
  child.uncharge(100);
  EXPECT_EQ(root.used_bytes(), 0u);
  EXPECT_EQ(root.used_objects(), 0u);
}

// Threads charging through four children of one parent: the parent's limit
// holds exactly, each child's too, and every level agrees at the end.
TEST(Quota, ConcurrentChildrenNeverPassTheSharedParent) {
  constexpr uint32_t kParentObjects = 1000, kChildObjects = 400;
  constexpr int kChildren = 4, kThreadsPerChild = 2, kAttempts = 300;
  Quota parent(kParentObjects * 16, kParentObjects);
  std::vector<std::unique_ptr<Quota>> children;
  for (int c = 0; c < kChildren; ++c) children.push_back(std::make_unique<Quota>(1 << 20, kChildObjects, &parent));
  std::atomic<uint32_t> granted{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kChildren; ++c) {
    for (int t = 0; t < kThreadsPerChild; ++t) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < kAttempts; ++i) {
          if (children[c]->charge(16).ok()) granted++;
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  threads.clear();
  // 2,400 attempts for 1,000 places: a charge is undone only when the parent
  // is full, so the parent ends exactly full (and no child above its limit).
  EXPECT_EQ(granted, kParentObjects);
  EXPECT_EQ(parent.used_objects(), kParentObjects);
  EXPECT_EQ(parent.used_bytes(), kParentObjects * 16u);
  uint32_t sum = 0;
  for (auto& child : children) {
    EXPECT_LE(child->used_objects(), kChildObjects);
    EXPECT_EQ(child->used_bytes(), child->used_objects() * 16u);
    sum += child->used_objects();
  }
  EXPECT_EQ(sum, kParentObjects);
  for (auto& child : children) {
    for (uint32_t n = child->used_objects(); n > 0; --n) child->uncharge(16);
  }
  EXPECT_EQ(parent.used_objects(), 0u);

  // Charging and returning at once, with a watcher: no level is ever seen
  // above its limit, and everything comes back.
  std::atomic<bool> stop{false};
  std::atomic<int> over{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      if (parent.used_objects() > kParentObjects) over++;
      for (auto& child : children) {
        if (child->used_objects() > kChildObjects) over++;
      }
    }
  });
  for (int c = 0; c < kChildren; ++c) {
    for (int t = 0; t < kThreadsPerChild; ++t) {
      threads.emplace_back([&, c] {
        int held = 0;
        for (int i = 0; i < 20 * kAttempts; ++i) {
          if (i % 3 != 2) {
            if (children[c]->charge(16).ok()) ++held;
          } else if (held > 0) {
            children[c]->uncharge(16);
            --held;
          }
        }
        for (; held > 0; --held) children[c]->uncharge(16);
      });
    }
  }
  for (auto& t : threads) t.join();
  stop = true;
  watcher.join();
  EXPECT_EQ(over, 0);
  EXPECT_EQ(parent.used_objects(), 0u);
  EXPECT_EQ(parent.used_bytes(), 0u);
  for (auto& child : children) EXPECT_EQ(child->used_objects(), 0u);
}

// An object keeps its quota alive (a process's quota, after the process is
// gone), and a child quota its parent.
TEST(Quota, ReferencesKeepQuotasAlive) {
  Counters counters;
  ktl::RefPtr<Quota> parent = Quota::create(1024, 10, nullptr).release_value();
  ktl::RefPtr<Quota> child = Quota::create(512, 5, parent.get()).release_value();
  ktl::RefPtr<TestObject> obj = TestObject::create(&counters, child.get()).release_value();
  Quota* raw_parent = parent.get();
  parent.reset();
  child.reset();
  // ASan would report these reads if either quota had been freed.
  EXPECT_EQ(obj->quota()->used_objects(), 1u);
  EXPECT_EQ(obj->quota()->parent(), raw_parent);
  EXPECT_EQ(raw_parent->used_bytes(), sizeof(TestObject));
  obj.reset();  // uncharges both levels, then frees both quotas (LeakSanitizer checks)
  EXPECT_EQ(counters.destroyed, 1);

  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(Quota::create(1, 1, nullptr).error(), ktl::Error::NoMemory);
}

// Freeing a long chain of quotas must not recurse once per level (a kernel
// stack is 16 KiB).
TEST(Quota, LongChainIsFreedInALoop) {
  constexpr int kDepth = 200'000;
  ktl::RefPtr<Quota> leaf = Quota::create(1 << 20, 100, nullptr).release_value();
  for (int i = 1; i < kDepth; ++i) leaf = Quota::create(1 << 20, 100, leaf.get()).release_value();
  EXPECT_TRUE(leaf->charge(8).ok());
  leaf->uncharge(8);
  leaf.reset();
}

TEST(KernelObject, TakeCharge) {
  Counters counters;
  Quota quota(1024, 10);
  ktl::RefPtr<TestObject> obj = TestObject::create(&counters).release_value();
  EXPECT_EQ(obj->quota(), nullptr);
  ASSERT_TRUE(quota.charge(100).ok());
  obj->take_charge(&quota, 100);
  EXPECT_EQ(obj->quota(), &quota);
  EXPECT_EQ(obj->charged_bytes(), 100u);
  // A second charge is not taken over: it is returned at once.
  ASSERT_TRUE(quota.charge(50).ok());
  obj->take_charge(&quota, 50);
  EXPECT_EQ(quota.used_bytes(), 100u);
  EXPECT_EQ(quota.used_objects(), 1u);
  obj.reset();
  EXPECT_EQ(quota.used_bytes(), 0u);
  EXPECT_EQ(quota.used_objects(), 0u);
}

// ---- Rights ----

TEST(Rights, Strings) {
  char buf[kRightsStringSize];
  EXPECT_STREQ(rights_string(
                   kRightRead | kRightWrite | kRightExecute | kRightDuplicate | kRightTransfer | kRightManage,
                   buf, sizeof buf),
               "rwx-dt--m");
  EXPECT_STREQ(rights_string(kRightNone, buf, sizeof buf), "---------");
  EXPECT_STREQ(rights_string(kRightAll, buf, sizeof buf), "rwxpdtsWm");
  EXPECT_STREQ(rights_string(kRightAll | (1u << 20), buf, sizeof buf), "rwxpdtsWm?");
  char small[4];
  EXPECT_STREQ(rights_string(kRightAll, small, sizeof small), "rwx");
  char none[1] = {'z'};
  rights_string(kRightAll, none, 0);
  EXPECT_EQ(none[0], 'z');
}

TEST(Rights, Subset) {
  EXPECT_TRUE(rights_subset(kRightNone, kRightNone));
  EXPECT_TRUE(rights_subset(kRightRead, kRightRead | kRightWrite));
  EXPECT_TRUE(rights_subset(kRightAll, kRightAll));
  EXPECT_FALSE(rights_subset(kRightRead | kRightManage, kRightRead | kRightWrite));
  EXPECT_FALSE(rights_subset(kRightAll, kRightAll & ~kRightWait));
  EXPECT_EQ(kRightAll, 0x1ffu);
}

}  // namespace
}  // namespace object
