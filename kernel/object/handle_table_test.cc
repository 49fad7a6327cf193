// object/handle_table_test.cc — host tests for HandleTable: lookup and rights
// checks, stale handles, handle counting, transfer, growth and failure, and
// concurrent use.
#include <object/handle_table.h>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace mm {
extern bool g_kmalloc_fail_next;  // tests/host/support/kmalloc_shim.cc
}

namespace object {
namespace {

struct Counters {
  std::atomic<int> created{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> zero_handles{0};
};

class TestObject final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Test;
  static ktl::Result<ktl::RefPtr<TestObject>> create(Counters* counters) {
    TestObject* obj = new (std::nothrow) TestObject(counters);
    if (obj == nullptr) return ktl::Error::NoMemory;
    counters->created++;
    return ktl::adopt_ref(obj);
  }
  ~TestObject() override { counters_->destroyed++; }

 private:
  explicit TestObject(Counters* counters) : KernelObject(kType), counters_(counters) {}
  void on_zero_handles() override { counters_->zero_handles++; }
  Counters* counters_;
};

class FakeEndpoint final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Endpoint;
  static ktl::RefPtr<FakeEndpoint> create() { return ktl::adopt_ref(new (std::nothrow) FakeEndpoint()); }

 private:
  FakeEndpoint() : KernelObject(kType) {}
};

ktl::RefPtr<TestObject> make(Counters* counters) {
  auto r = TestObject::create(counters);
  EXPECT_TRUE(r.ok());
  return r.release_value();
}

// Adds a new TestObject with `rights`; the table holds the only reference.
Handle add_new(HandleTable& table, Counters* counters, Rights rights = kRightAll, uint64_t badge = 0) {
  auto r = table.add(make(counters), rights, badge);
  EXPECT_TRUE(r.ok()) << ktl::error_name(r.error());
  return r.value_or(kInvalidHandle);
}

int load(const std::atomic<int>& a) { return a.load(); }

TEST(HandleTable, AddGetRemove) {
  Counters counters;
  HandleTable table;
  EXPECT_EQ(table.count(), 0u);
  EXPECT_EQ(table.capacity(), 0u);  // nothing allocated before the first add
  ktl::RefPtr<TestObject> obj = make(&counters);
  Handle h = table.add(obj, kRightRead | kRightWrite, 7).value();
  EXPECT_NE(h, kInvalidHandle);
  EXPECT_EQ(table.count(), 1u);
  EXPECT_EQ(obj->handle_count(), 1u);
  EXPECT_EQ(obj->ref_count(), 2u);

  uint64_t badge = 0;
  auto got = table.get<TestObject>(h, kRightRead, &badge);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->get(), obj.get());
  EXPECT_EQ(badge, 7u);
  EXPECT_EQ(obj->ref_count(), 3u);  // get() returns a new reference

  auto entry = table.get_entry(h);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->object, obj);
  EXPECT_EQ(entry->rights, kRightRead | kRightWrite);
  EXPECT_EQ(entry->badge, 7u);

  auto removed = table.remove(h);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->object, obj);
  EXPECT_EQ(removed->rights, kRightRead | kRightWrite);
  EXPECT_EQ(removed->badge, 7u);
  EXPECT_EQ(table.count(), 0u);
  EXPECT_EQ(obj->handle_count(), 0u);
  EXPECT_EQ(load(counters.zero_handles), 1);
  EXPECT_EQ(table.remove(h).error(), ktl::Error::BadHandle);
}

TEST(HandleTable, AddRejectsNullAndUnknownRights) {
  Counters counters;
  HandleTable table;
  EXPECT_EQ(table.add(ktl::RefPtr<KernelObject>(), kRightRead).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(table.add(make(&counters), kRightAll | (1u << 30)).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(load(counters.destroyed), 1);  // the refused object was dropped
  EXPECT_EQ(load(counters.zero_handles), 0);
  EXPECT_EQ(table.count(), 0u);
}

TEST(HandleTable, GetErrorOrder) {
  Counters counters;
  HandleTable table;
  Handle ep = table.add(FakeEndpoint::create(), kRightRead).value();
  Handle t = add_new(table, &counters, kRightRead);

  // BadHandle before anything else.
  EXPECT_EQ(table.get<TestObject>(kInvalidHandle, kRightRead).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.get<KernelObject>(0x7777, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.get<TestObject>(ep ^ 0x10000, kRightWrite).error(), ktl::Error::BadHandle);
  // WrongType before AccessDenied: the endpoint lacks kRightWrite too.
  EXPECT_EQ(table.get<TestObject>(ep, kRightWrite).error(), ktl::Error::WrongType);
  EXPECT_EQ(table.get<TestObject>(ep, kRightRead).error(), ktl::Error::WrongType);
  EXPECT_EQ(table.get<FakeEndpoint>(ep, kRightWrite).error(), ktl::Error::AccessDenied);
  EXPECT_EQ(table.get<FakeEndpoint>(t, kRightRead).error(), ktl::Error::WrongType);
  // KernelObject accepts any type, still checks rights.
  EXPECT_EQ(table.get<KernelObject>(ep, kRightWrite).error(), ktl::Error::AccessDenied);
  EXPECT_TRUE(table.get<KernelObject>(ep, kRightRead).ok());
  EXPECT_TRUE(table.get<KernelObject>(t, kRightNone).ok());
  auto e = table.get<FakeEndpoint>(ep, kRightRead);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->type(), ObjectType::Endpoint);
  EXPECT_TRUE(table.get<TestObject>(t, kRightRead).ok());
}

TEST(HandleTable, HandleValuesEncodeSlotAndGeneration) {
  Counters counters;
  HandleTable table;
  std::vector<Handle> handles;
  for (int i = 0; i < 40; ++i) handles.push_back(add_new(table, &counters));
  for (size_t i = 0; i < handles.size(); ++i) {
    EXPECT_NE(handles[i], kInvalidHandle);
    EXPECT_EQ(handles[i] & 0xffff, i + 1);  // fresh slots in order, generation 0
    EXPECT_EQ(handles[i] >> 16, 0u);
  }
}

TEST(HandleTable, StaleHandleAfterRemoveIsBad) {
  Counters counters;
  HandleTable table;
  Handle h = add_new(table, &counters);
  ASSERT_TRUE(table.remove(h).ok());
  EXPECT_EQ(table.get<KernelObject>(h, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.get_entry(h).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.duplicate(h, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.mint(h, 0, 1).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.replace(h, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.take_for_transfer(h).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.remove(h).error(), ktl::Error::BadHandle);
}

TEST(HandleTable, StaleHandleAfterSlotReuseIsBad) {
  Counters counters;
  HandleTable table(1);  // one slot: every add reuses it
  Handle first = add_new(table, &counters);
  ASSERT_TRUE(table.remove(first).ok());
  ktl::RefPtr<TestObject> second_obj = make(&counters);
  Handle second = table.add(second_obj, kRightAll).value();
  EXPECT_EQ(second & 0xffff, first & 0xffff);  // same slot
  EXPECT_NE(second, first);
  EXPECT_EQ(table.get<KernelObject>(first, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.remove(first).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.get<TestObject>(second, 0).value(), second_obj);

  // Many reuses: every value is new and all earlier ones stay dead.
  std::set<Handle> seen = {first, second};
  ASSERT_TRUE(table.remove(second).ok());
  for (int i = 0; i < 1000; ++i) {
    Handle h = add_new(table, &counters);
    EXPECT_TRUE(seen.insert(h).second);
    ASSERT_TRUE(table.remove(h).ok());
  }
  for (Handle old : seen) EXPECT_EQ(table.get<KernelObject>(old, 0).error(), ktl::Error::BadHandle);
}

TEST(HandleTable, FreedSlotsAreReusedOldestFirst) {
  Counters counters;
  HandleTable table;
  Handle a = add_new(table, &counters);
  Handle b = add_new(table, &counters);
  ASSERT_TRUE(table.remove(a).ok());
  // The 14 never-used slots of the first 16 come before a's slot.
  for (int i = 0; i < 14; ++i) EXPECT_EQ(add_new(table, &counters) >> 16, 0u);
  Handle reused = add_new(table, &counters);
  EXPECT_EQ(reused & 0xffff, a & 0xffff);
  EXPECT_EQ(reused >> 16, 1u);
  EXPECT_TRUE(table.get<KernelObject>(b, 0).ok());
}

TEST(HandleTable, ZeroHandlesFiresWhenLastHandleInAnyTableCloses) {
  Counters counters;
  HandleTable one;
  HandleTable two;
  ktl::RefPtr<TestObject> obj = make(&counters);
  Handle h1 = one.add(obj, kRightAll).value();
  Handle h2 = two.add(obj, kRightAll).value();
  Handle h3 = one.duplicate(h1, kRightRead).value();
  EXPECT_EQ(obj->handle_count(), 3u);
  ASSERT_TRUE(one.remove(h1).ok());
  ASSERT_TRUE(two.remove(h2).ok());
  EXPECT_EQ(load(counters.zero_handles), 0);
  ASSERT_TRUE(one.remove(h3).ok());
  EXPECT_EQ(load(counters.zero_handles), 1);
  EXPECT_EQ(load(counters.destroyed), 0);  // we still hold `obj`
  obj.reset();
  EXPECT_EQ(load(counters.destroyed), 1);
}

TEST(HandleTable, RemoveDropsLastReferenceOutsideTheTable) {
  Counters counters;
  HandleTable table;
  Handle h = add_new(table, &counters);
  {
    auto entry = table.remove(h);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(load(counters.zero_handles), 1);
    EXPECT_EQ(load(counters.destroyed), 0);  // the entry keeps it alive
  }
  EXPECT_EQ(load(counters.destroyed), 1);
}

TEST(HandleTable, DuplicateOnlyShrinksRights) {
  Counters counters;
  HandleTable table;
  Handle h = add_new(table, &counters, kRightRead | kRightWrite | kRightDuplicate, 5);
  EXPECT_EQ(table.duplicate(h, kRightRead | kRightManage).error(), ktl::Error::AccessDenied);
  EXPECT_EQ(table.duplicate(h, kRightAll).error(), ktl::Error::AccessDenied);
  Handle d = table.duplicate(h, kRightRead).value();
  EXPECT_NE(d, h);
  auto entry = table.get_entry(d).value();
  EXPECT_EQ(entry.rights, kRightRead);
  EXPECT_EQ(entry.badge, 5u);  // badge copied
  EXPECT_EQ(entry.object, table.get_entry(h).value().object);
  // The duplicate lacks kRightDuplicate: it cannot be duplicated, even to less.
  EXPECT_EQ(table.duplicate(d, kRightNone).error(), ktl::Error::AccessDenied);
  EXPECT_EQ(table.get<TestObject>(d, kRightWrite).error(), ktl::Error::AccessDenied);
  // Same rights is allowed.
  EXPECT_TRUE(table.duplicate(h, kRightRead | kRightWrite | kRightDuplicate).ok());
  EXPECT_EQ(table.count(), 3u);
  EXPECT_EQ(entry.object->handle_count(), 3u);
}

TEST(HandleTable, MintBadges) {
  Counters counters;
  HandleTable table;
  Handle h = add_new(table, &counters, kRightRead | kRightWrite | kRightDuplicate);
  EXPECT_EQ(table.mint(h, kRightWrite, 0).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(table.mint(h, kRightWrite | kRightManage, 1).error(), ktl::Error::AccessDenied);
  Handle m = table.mint(h, kRightWrite | kRightDuplicate, 0xabcdef).value();
  uint64_t badge = 0;
  ASSERT_TRUE(table.get<TestObject>(m, kRightWrite, &badge).ok());
  EXPECT_EQ(badge, 0xabcdefu);
  // A badged handle cannot be re-badged, but duplicates keep its badge.
  EXPECT_EQ(table.mint(m, kRightWrite, 2).error(), ktl::Error::AccessDenied);
  Handle d = table.duplicate(m, kRightWrite).value();
  EXPECT_EQ(table.get_entry(d).value().badge, 0xabcdefu);
  // The original stays unbadged.
  EXPECT_EQ(table.get_entry(h).value().badge, 0u);
  // Minting needs kRightDuplicate.
  Handle no_dup = table.duplicate(h, kRightWrite).value();
  EXPECT_EQ(table.mint(no_dup, kRightWrite, 3).error(), ktl::Error::AccessDenied);
}

TEST(HandleTable, ReplaceIsAtomicAndOnlyShrinks) {
  Counters counters;
  HandleTable table;
  Handle h = add_new(table, &counters, kRightRead | kRightWrite, 9);
  KernelObject* obj = table.get_entry(h).value().object.get();

  // Failure has no effect.
  EXPECT_EQ(table.replace(h, kRightRead | kRightManage).error(), ktl::Error::AccessDenied);
  EXPECT_EQ(table.get_entry(h).value().rights, kRightRead | kRightWrite);

  Handle r = table.replace(h, kRightRead).value();
  EXPECT_NE(r, h);
  EXPECT_NE(r, kInvalidHandle);
  EXPECT_EQ(table.get<KernelObject>(h, 0).error(), ktl::Error::BadHandle);
  auto entry = table.get_entry(r).value();
  EXPECT_EQ(entry.object.get(), obj);
  EXPECT_EQ(entry.rights, kRightRead);
  EXPECT_EQ(entry.badge, 9u);
  EXPECT_EQ(table.count(), 1u);
  EXPECT_EQ(obj->handle_count(), 1u);
  EXPECT_EQ(load(counters.zero_handles), 0);
  // Rights cannot come back.
  EXPECT_EQ(table.replace(r, kRightRead | kRightWrite).error(), ktl::Error::AccessDenied);
}

TEST(HandleTable, ReplaceWorksOnAFullTable) {
  Counters counters;
  HandleTable table(1);
  Handle h = add_new(table, &counters);
  EXPECT_TRUE(table.replace(h, kRightRead).ok());
}

TEST(HandleTable, FullTableIsNoSpace) {
  Counters counters;
  HandleTable table(20);
  std::vector<Handle> handles;
  for (int i = 0; i < 20; ++i) handles.push_back(add_new(table, &counters));
  EXPECT_EQ(table.capacity(), 20u);  // growth stops at the limit
  EXPECT_EQ(table.add(make(&counters), kRightAll).error(), ktl::Error::NoSpace);
  EXPECT_EQ(table.duplicate(handles[0], kRightRead).error(), ktl::Error::NoSpace);
  EXPECT_EQ(table.mint(handles[0], kRightRead, 1).error(), ktl::Error::NoSpace);
  EXPECT_EQ(load(counters.destroyed), 1);  // the refused object
  EXPECT_EQ(table.count(), 20u);
  // Checks on the source come before NoSpace.
  EXPECT_EQ(table.duplicate(0x12345, kRightRead).error(), ktl::Error::BadHandle);
  ASSERT_TRUE(table.remove(handles[3]).ok());
  EXPECT_TRUE(table.add(make(&counters), kRightAll).ok());
}

TEST(HandleTable, MaxSlotsIsClamped) {
  EXPECT_EQ(HandleTable(0).max_slots(), 1u);
  EXPECT_EQ(HandleTable(100000).max_slots(), HandleTable::kMaxSlots);
  EXPECT_EQ(HandleTable().max_slots(), HandleTable::kDefaultMaxSlots);
}

TEST(HandleTable, AllSlotsOfAMaximalTable) {
  Counters counters;
  HandleTable table(HandleTable::kMaxSlots);
  ktl::RefPtr<TestObject> obj = make(&counters);
  Handle first = table.add(obj, kRightAll).value();
  Handle last = kInvalidHandle;
  for (size_t i = 1; i < HandleTable::kMaxSlots; ++i) {
    auto h = table.duplicate(first, kRightAll);
    ASSERT_TRUE(h.ok());
    last = h.value();
  }
  EXPECT_EQ(last, 0xffffu);  // index 65534 + 1, generation 0
  EXPECT_EQ(table.duplicate(first, kRightAll).error(), ktl::Error::NoSpace);
  EXPECT_EQ(obj->handle_count(), HandleTable::kMaxSlots);
  table.clear();
  EXPECT_EQ(obj->handle_count(), 0u);
  EXPECT_EQ(load(counters.zero_handles), 1);
}

TEST(HandleTable, GrowsGeometrically) {
  Counters counters;
  HandleTable table;
  add_new(table, &counters);
  EXPECT_EQ(table.capacity(), HandleTable::kInitialSlots);
  for (size_t i = 1; i <= HandleTable::kInitialSlots; ++i) add_new(table, &counters);
  EXPECT_EQ(table.capacity(), 2 * HandleTable::kInitialSlots);
  while (table.count() <= 2 * HandleTable::kInitialSlots) add_new(table, &counters);
  EXPECT_EQ(table.capacity(), 4 * HandleTable::kInitialSlots);
}

TEST(HandleTable, AllocationFailureIsNoMemory) {
  Counters counters;
  HandleTable table;
  ktl::RefPtr<TestObject> obj = make(&counters);

  // The first add allocates the slot array.
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(table.add(obj, kRightAll).error(), ktl::Error::NoMemory);
  EXPECT_EQ(table.count(), 0u);
  EXPECT_EQ(obj->handle_count(), 0u);
  EXPECT_EQ(obj->ref_count(), 1u);  // the table's copy was dropped
  EXPECT_EQ(load(counters.zero_handles), 0);

  std::vector<Handle> handles;
  for (size_t i = 0; i < HandleTable::kInitialSlots; ++i)
    handles.push_back(table.add(obj, kRightAll).value());
  // Growing fails: nothing changes, existing handles still work.
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(table.add(obj, kRightAll).error(), ktl::Error::NoMemory);
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(table.duplicate(handles[0], kRightRead).error(), ktl::Error::NoMemory);
  EXPECT_EQ(table.capacity(), HandleTable::kInitialSlots);
  EXPECT_EQ(table.count(), HandleTable::kInitialSlots);
  EXPECT_EQ(obj->handle_count(), HandleTable::kInitialSlots);
  for (Handle h : handles) EXPECT_TRUE(table.get<TestObject>(h, kRightAll).ok());
  // And the next attempt succeeds.
  EXPECT_TRUE(table.add(obj, kRightAll).ok());
  EXPECT_EQ(table.capacity(), 2 * HandleTable::kInitialSlots);
}

TEST(HandleTable, TransferBetweenTablesKeepsHandleCount) {
  Counters counters;
  HandleTable sender;
  HandleTable receiver;
  ktl::RefPtr<TestObject> obj = make(&counters);
  Handle h = sender.add(obj, kRightRead | kRightTransfer, 3).value();
  Handle no_transfer = sender.add(obj, kRightRead).value();

  EXPECT_EQ(sender.take_for_transfer(no_transfer).error(), ktl::Error::AccessDenied);
  EXPECT_TRUE(sender.get<KernelObject>(no_transfer, 0).ok());
  ASSERT_TRUE(sender.remove(no_transfer).ok());

  HandleEntry in_flight = sender.take_for_transfer(h).value();
  EXPECT_EQ(sender.count(), 0u);
  EXPECT_EQ(sender.get<KernelObject>(h, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(in_flight.rights, kRightRead | kRightTransfer);
  EXPECT_EQ(in_flight.badge, 3u);
  EXPECT_EQ(obj->handle_count(), 1u);  // in flight still counts: no peer-closed
  EXPECT_EQ(load(counters.zero_handles), 0);

  Handle out = kInvalidHandle;
  ASSERT_TRUE(receiver.add_many(std::span<HandleEntry>(&in_flight, 1), std::span<Handle>(&out, 1)).ok());
  EXPECT_FALSE(in_flight.object);  // moved into the table
  EXPECT_EQ(obj->handle_count(), 1u);
  uint64_t badge = 0;
  EXPECT_EQ(receiver.get<TestObject>(out, kRightRead, &badge).value(), obj);
  EXPECT_EQ(badge, 3u);
  ASSERT_TRUE(receiver.remove(out).ok());
  EXPECT_EQ(load(counters.zero_handles), 1);
}

TEST(HandleTable, TakeManyIsAllOrNothing) {
  Counters counters;
  HandleTable table;
  Handle a = add_new(table, &counters);
  Handle b = add_new(table, &counters);
  Handle c = add_new(table, &counters);
  Handle no_transfer = add_new(table, &counters, kRightRead);
  HandleEntry out[4];

  // A bad handle in the middle: nothing removed.
  const Handle with_bad[] = {a, b ^ 0x10000, c};
  EXPECT_EQ(table.take_many_for_transfer(with_bad, out).error(), ktl::Error::BadHandle);
  // A handle without kRightTransfer at the end: nothing removed.
  const Handle with_denied[] = {a, b, c, no_transfer};
  EXPECT_EQ(table.take_many_for_transfer(with_denied, out).error(), ktl::Error::AccessDenied);
  // The same handle twice.
  const Handle twice[] = {a, b, a};
  EXPECT_EQ(table.take_many_for_transfer(twice, out).error(), ktl::Error::InvalidArgument);
  // Not enough room for the entries.
  const Handle three[] = {a, b, c};
  EXPECT_EQ(table.take_many_for_transfer(three, std::span<HandleEntry>(out, 2)).error(),
            ktl::Error::InvalidArgument);
  EXPECT_EQ(table.count(), 4u);
  for (const HandleEntry& e : out) EXPECT_FALSE(e.object);
  for (Handle h : {a, b, c, no_transfer}) EXPECT_TRUE(table.get<TestObject>(h, 0).ok());

  ASSERT_TRUE(table.take_many_for_transfer(three, out).ok());
  EXPECT_EQ(table.count(), 1u);
  for (Handle h : {a, b, c}) EXPECT_EQ(table.get<KernelObject>(h, 0).error(), ktl::Error::BadHandle);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(out[i].object);
    EXPECT_EQ(out[i].object->handle_count(), 1u);
  }
  EXPECT_EQ(load(counters.zero_handles), 0);

  // Out entries must be empty (they would otherwise be dropped under the lock).
  const Handle last[] = {no_transfer};
  EXPECT_EQ(table.take_many_for_transfer(last, out).error(), ktl::Error::InvalidArgument);

  // Dropping the message closes the handles in flight.
  HandleTable::discard_transferred(out);
  for (const HandleEntry& e : out) EXPECT_FALSE(e.object);
  EXPECT_EQ(load(counters.zero_handles), 3);
  EXPECT_EQ(load(counters.destroyed), 3);

  // An empty list is fine.
  EXPECT_TRUE(table.take_many_for_transfer({}, {}).ok());
}

TEST(HandleTable, AddManyIsAllOrNothing) {
  Counters counters;
  HandleTable source;
  Handle hs[3];
  for (Handle& h : hs) h = add_new(source, &counters, kRightRead | kRightTransfer);
  HandleEntry entries[3];
  ASSERT_TRUE(source.take_many_for_transfer(hs, entries).ok());

  // NoSpace: 2 free slots, 3 entries.
  HandleTable small(4);
  Handle keep1 = add_new(small, &counters);
  Handle keep2 = add_new(small, &counters);
  Handle out[3] = {};
  EXPECT_EQ(small.add_many(entries, out).error(), ktl::Error::NoSpace);
  EXPECT_EQ(small.count(), 2u);
  for (const HandleEntry& e : entries) EXPECT_TRUE(e.object);  // still the caller's
  for (Handle h : out) EXPECT_EQ(h, kInvalidHandle);
  EXPECT_TRUE(small.get<KernelObject>(keep1, 0).ok());
  EXPECT_TRUE(small.get<KernelObject>(keep2, 0).ok());

  // InvalidArgument: out too small, or an empty entry.
  EXPECT_EQ(small.add_many(entries, std::span<Handle>(out, 2)).error(), ktl::Error::InvalidArgument);
  HandleEntry with_empty[2] = {entries[0], HandleEntry{}};
  EXPECT_EQ(small.add_many(with_empty, out).error(), ktl::Error::InvalidArgument);
  with_empty[0].object.reset();  // a copy: not a counted handle

  // NoMemory while growing: unchanged.
  HandleTable grown;
  for (size_t i = 0; i < HandleTable::kInitialSlots - 1; ++i) add_new(grown, &counters);
  mm::g_kmalloc_fail_next = true;
  EXPECT_EQ(grown.add_many(entries, out).error(), ktl::Error::NoMemory);
  EXPECT_EQ(grown.count(), HandleTable::kInitialSlots - 1);
  for (const HandleEntry& e : entries) EXPECT_TRUE(e.object);

  // Success: all three, possibly across a growth.
  ASSERT_TRUE(grown.add_many(entries, out).ok());
  EXPECT_EQ(grown.count(), HandleTable::kInitialSlots + 2);
  std::set<Handle> distinct(std::begin(out), std::end(out));
  EXPECT_EQ(distinct.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(entries[i].object);
    EXPECT_NE(out[i], kInvalidHandle);
    auto entry = grown.get_entry(out[i]).value();
    EXPECT_EQ(entry.rights, kRightRead | kRightTransfer);
    EXPECT_EQ(entry.object->handle_count(), 1u);
  }
  EXPECT_EQ(load(counters.zero_handles), 0);
}

TEST(HandleTable, ClearDropsEverything) {
  Counters counters;
  HandleTable table;
  std::vector<Handle> handles;
  for (int i = 0; i < 100; ++i) handles.push_back(add_new(table, &counters));
  ktl::RefPtr<TestObject> kept = make(&counters);
  Handle k1 = table.add(kept, kRightAll).value();
  Handle k2 = table.add(kept, kRightAll).value();
  table.clear();
  EXPECT_EQ(table.count(), 0u);
  EXPECT_EQ(load(counters.destroyed), 100);
  EXPECT_EQ(load(counters.zero_handles), 101);
  EXPECT_EQ(kept->handle_count(), 0u);
  EXPECT_EQ(kept->ref_count(), 1u);
  // Old handles stay dead, and the table takes nothing new: a process being
  // torn down must not collect handles that would then live as long as it.
  for (Handle h : handles) EXPECT_EQ(table.get<KernelObject>(h, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.get<KernelObject>(k1, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.get<KernelObject>(k2, 0).error(), ktl::Error::BadHandle);
  EXPECT_EQ(table.add(kept, kRightAll).error(), ktl::Error::BadState);
  HandleEntry entry{kept, kRightAll, 0};
  Handle out = kInvalidHandle;
  EXPECT_EQ(table.add_many({&entry, 1}, {&out, 1}).error(), ktl::Error::BadState);
  EXPECT_EQ(kept->handle_count(), 0u);
  EXPECT_EQ(table.count(), 0u);
}

TEST(HandleTable, DestructorClosesEverything) {
  Counters counters;
  {
    HandleTable table;
    for (int i = 0; i < 50; ++i) add_new(table, &counters);
  }
  EXPECT_EQ(load(counters.destroyed), 50);
  EXPECT_EQ(load(counters.zero_handles), 50);
}

// Four threads add, look up, duplicate and remove on one table, and steal
// each other's published handles. Afterwards the table is empty and every
// object was destroyed exactly once, after its last handle closed.
TEST(HandleTable, ConcurrentUse) {
  constexpr int kThreads = 4;
  constexpr int kIterations = 5000;
  Counters counters;
  HandleTable table(256);
  std::atomic<Handle> mailbox[kThreads] = {};
  std::atomic<bool> failed{false};

  auto worker = [&](int id) {
    for (int i = 0; i < kIterations; ++i) {
      auto obj = TestObject::create(&counters);
      if (!obj.ok()) {
        failed = true;
        return;
      }
      auto h = table.add(std::move(obj.value()), kRightRead | kRightDuplicate | kRightTransfer);
      if (!h.ok() || h.value() == kInvalidHandle) {
        failed = true;
        return;
      }
      if (!table.get<TestObject>(h.value(), kRightRead).ok()) failed = true;
      if (table.get<TestObject>(h.value(), kRightWrite).error() != ktl::Error::AccessDenied) failed = true;
      auto d = table.duplicate(h.value(), kRightRead);
      if (!d.ok()) {
        failed = true;
        return;
      }
      if (!table.remove(d.value()).ok()) failed = true;
      if (table.get<KernelObject>(d.value(), 0).error() != ktl::Error::BadHandle) failed = true;
      // Publish our handle; whoever takes it out of a mailbox closes it.
      Handle previous = mailbox[id].exchange(h.value());
      if (previous != kInvalidHandle && !table.remove(previous).ok()) failed = true;
      Handle stolen = mailbox[(id + 1) % kThreads].exchange(kInvalidHandle);
      if (stolen != kInvalidHandle) {
        if (i % 2 == 0) {
          if (!table.remove(stolen).ok()) failed = true;
        } else {
          auto e = table.take_for_transfer(stolen);
          if (!e.ok()) {
            failed = true;
            continue;
          }
          HandleTable::discard_transferred(std::span<HandleEntry>(&e.value(), 1));
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  for (auto& m : mailbox) {
    Handle h = m.exchange(kInvalidHandle);
    if (h != kInvalidHandle) EXPECT_TRUE(table.remove(h).ok());
  }

  EXPECT_FALSE(failed);
  EXPECT_EQ(table.count(), 0u);
  EXPECT_EQ(load(counters.created), kThreads * kIterations);
  EXPECT_EQ(load(counters.destroyed), kThreads * kIterations);
  EXPECT_EQ(load(counters.zero_handles), kThreads * kIterations);
}

}  // namespace
}  // namespace object

namespace object {
namespace {

TEST(HandleTableQuota, GrowthIsChargedAndReturned) {
  Counters counters;
  auto quota = Quota::create(1 << 20, 100, nullptr).release_value();
  {
    HandleTable table(1024);
    table.set_quota(quota);
    EXPECT_EQ(quota->used_bytes(), 0u);  // nothing before the first add
    add_new(table, &counters);
    const uint64_t first = quota->used_bytes();
    EXPECT_GT(first, 0u);
    EXPECT_EQ(quota->used_objects(), 1u);  // the array is one object
    while (table.capacity() == table.count() || table.count() < 40) add_new(table, &counters);
    EXPECT_GT(quota->used_bytes(), first);
    EXPECT_EQ(quota->used_objects(), 1u);  // the old array's charge came back
  }
  EXPECT_EQ(quota->used_bytes(), 0u);
  EXPECT_EQ(quota->used_objects(), 0u);
}

TEST(HandleTableQuota, SpentQuotaRefusesGrowthAndKeepsTheTable) {
  Counters counters;
  // Room for the first array (16 slots) but not for the second (32).
  HandleTable probe;
  auto probe_quota = Quota::create(1 << 20, 100, nullptr).release_value();
  probe.set_quota(probe_quota);
  add_new(probe, &counters);
  const uint64_t first = probe_quota->used_bytes();
  auto quota = Quota::create(first * 2 - 1, 100, nullptr).release_value();  // growth needs 2 * first
  HandleTable table;
  table.set_quota(quota);
  std::vector<Handle> handles;
  for (size_t i = 0; i < 16; ++i) handles.push_back(add_new(table, &counters));
  auto r = table.add(make(&counters), kRightAll, 0);
  EXPECT_EQ(r.error(), ktl::Error::QuotaExceeded);
  EXPECT_EQ(table.count(), 16u);
  EXPECT_EQ(quota->used_bytes(), first);
  for (Handle h : handles) EXPECT_TRUE(table.get_entry(h).ok());
}

}  // namespace
}  // namespace object
