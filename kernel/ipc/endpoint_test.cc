// ipc/endpoint_test.cc — host tests for endpoint queueing and delivery: FIFO
// order, words, badges and the call flag, replies, handles in flight,
// timeouts, peer closed, and concurrent callers and servers.
//
// The real kernel/ipc/endpoint.cc runs against the host fake scheduler
// (tests/host/support/fake_sched/): every sched::Thread is a host thread, and
// deadlines are on a fake clock that only the test moves, so timeouts happen
// exactly where a test puts them. A test plays the syscall layer
// (kernel/syscalls/ipc_sys.cc): it fills the thread's ipc.msg, takes handles
// out of a table for transfer, calls send/receive/reply, and installs the
// handles it received.
#include <ipc/endpoint.h>

#include <object/handle_table.h>
#include <sched/host.h>
#include <sched/scheduler.h>
#include <sched/thread.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <span>
#include <thread>
#include <vector>

namespace ktl {
// Error names in gtest messages.
inline void PrintTo(Error e, std::ostream* os) { *os << error_name(e); }
}  // namespace ktl

namespace ipc {
namespace {

using namespace std::chrono_literals;
using object::HandleTable;
using object::KernelObject;
using sched::host::HostThread;
using syscalls::IpcTag;
using syscalls::kIpcFlagCall;

constexpr uint64_t kForever = UINT64_MAX;
constexpr uint64_t kPoll = 0;
constexpr ktl::Error kNotRun = ktl::Error::Busy;  // a result slot nobody has written

// ---- Test objects: handles to them travel in messages. ----

struct Counters {
  std::atomic<int> created{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> zero_handles{0};  // each handle closed exactly once counts once
};

class TestObject final : public KernelObject {
 public:
  static constexpr object::ObjectType kType = object::ObjectType::Test;
  static ktl::RefPtr<TestObject> make(Counters* counters) {
    TestObject* obj = new (std::nothrow) TestObject(counters);
    counters->created++;
    return ktl::adopt_ref(obj);
  }
  ~TestObject() override { counters_->destroyed++; }

 private:
  explicit TestObject(Counters* counters) : KernelObject(kType), counters_(counters) {}
  void on_zero_handles() override { counters_->zero_handles++; }
  Counters* counters_;
};

// ---- Playing the syscall layer on the current fake thread. ----

ThreadIpc& my_ipc() { return sched::current()->ipc; }

// The current thread's next message: `label` and `words`, no handles.
void set_message(uint32_t label, const std::vector<uint64_t>& words) {
  ThreadIpc& me = my_ipc();
  me.msg.tag = IpcTag::make(label, words.size(), 0, 0);
  for (size_t i = 0; i < words.size(); ++i) me.msg.words[i] = words[i];
  me.handle_count = 0;
}

// Adds handles to `objs` to `table` and takes them out for transfer with the
// current thread's next message, as copy_in() does.
void attach_handles(HandleTable& table, const std::vector<ktl::RefPtr<TestObject>>& objs) {
  ThreadIpc& me = my_ipc();
  std::vector<object::Handle> hs;
  for (const auto& obj : objs) hs.push_back(table.add(obj, object::kRightAll).value());
  ASSERT_TRUE(
      table.take_many_for_transfer(std::span<const object::Handle>(hs), {me.handles, hs.size()}).ok());
  me.handle_count = static_cast<uint32_t>(hs.size());
  me.msg.tag = (me.msg.tag & ~(IpcTag::kHandlesMask << IpcTag::kHandlesShift)) |
               (uint64_t(hs.size()) << IpcTag::kHandlesShift);
}

// Installs the handles delivered to the current thread into `table`, as
// copy_out() does, and returns them.
std::vector<object::Handle> install_handles(HandleTable& table) {
  ThreadIpc& me = my_ipc();
  object::Handle out[syscalls::kIpcMaxHandles];
  std::vector<object::Handle> hs;
  if (me.handle_count) {
    EXPECT_TRUE(table.add_many({me.handles, me.handle_count}, {out, me.handle_count}).ok());
    hs.assign(out, out + me.handle_count);
  }
  me.handle_count = 0;
  return hs;
}

// Installs the delivered handles, then closes them (a receiver done with them).
void install_and_close_handles(HandleTable& table) {
  for (object::Handle h : install_handles(table)) EXPECT_TRUE(table.remove(h).ok());
}

// The syscall layer's test for the fast paths (fast_path_ok in ipc_sys.cc):
// no deadline, no handles, few words.
bool fast_path_ok(uint64_t deadline) {
  const ThreadIpc& me = my_ipc();
  return deadline == kForever && me.handle_count == 0 &&
         IpcTag::words(me.msg.tag) <= syscalls::kIpcFastpathWords;
}

// ipc_call as sys_ipc_call does it: the fast path if the message qualifies
// and it can be taken, else send().
ktl::Error syscall_call(Endpoint& ep, uint64_t badge, uint64_t deadline) {
  if (fast_path_ok(deadline)) {
    ktl::Error e;
    if (ep.fast_call(badge, &e)) return e;
  }
  return ep.send(badge, true, deadline);
}

// ipc_reply_recv as sys_ipc_reply_recv does it (the reply is in ipc.msg):
// the fast path if allowed and possible, else reply_deferred() and
// receive(wake).
ktl::Error syscall_reply_recv(Endpoint& ep, uint64_t deadline, bool allow_fast = true) {
  ktl::RefPtr<sched::Thread> caller;
  if (my_ipc().reply_to) {
    if (allow_fast && fast_path_ok(deadline)) {
      ktl::Error e;
      if (ep.fast_reply_recv(&e)) return e;
    }
    auto c = reply_deferred();  // a caller that is gone just loses the reply
    if (c.ok()) caller = c.release_value();
  }
  return ep.receive(deadline, static_cast<ktl::RefPtr<sched::Thread>&&>(caller));
}

// What the current thread got from receive() or from a call (its reply).
struct Message {
  ktl::Error result = kNotRun;
  uint32_t label = 0;
  uint32_t flags = 0;
  std::vector<uint64_t> words;
  uint64_t badge = 0;
  std::vector<KernelObject*> handles;  // the objects of the handles delivered, in order
  sched::Thread* reply_to = nullptr;   // the caller owed a reply
};

Message snapshot(ktl::Error result) {
  const ThreadIpc& me = my_ipc();
  Message m;
  m.result = result;
  if (result != ktl::Error::None) return m;
  m.label = IpcTag::label(me.msg.tag);
  m.flags = IpcTag::flags(me.msg.tag);
  m.words.assign(me.msg.words, me.msg.words + IpcTag::words(me.msg.tag));
  m.badge = me.badge;
  for (uint32_t i = 0; i < me.handle_count; ++i) m.handles.push_back(me.handles[i].object.get());
  m.reply_to = me.reply_to;
  return m;
}

// A one-shot gate a fake thread waits at (host blocking, not a park) until
// the test opens it.
class Gate {
 public:
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Gives up after 10 s (real time) so that a failed test cannot hang.
  void wait() {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, std::chrono::seconds(10), [this] { return open_; }))
      ADD_FAILURE() << "gate never opened";
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Waits for `t` to exit; if it does not within `timeout`, the test fails and
// the thread is killed (repeatedly: a loop may block again) so that the test
// ends instead of hanging.
void join_or_kill(HostThread& t, std::chrono::milliseconds timeout = 10s) {
  if (!sched::host::wait_exited(t.get(), timeout)) {
    ADD_FAILURE() << "thread " << t->name() << " did not finish (lost wake-up?); killing it";
    while (!sched::host::wait_exited(t.get(), 100ms)) sched::host::kill(t.get());
  }
  t.join();
}

// ---- The fixture: one endpoint, its handle in a table (so that closing it
// runs on_zero_handles), and a check that every object created in the test is
// gone at its end (threads, endpoints, test objects: no reference leaked). ----

class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_before_ = KernelObject::live_count();
    ep_ = Endpoint::create(nullptr).release_value();
    ep_handle_ = table_.add(ep_, object::kRightRead | object::kRightWrite | object::kRightDuplicate).value();
  }
  void TearDown() override {
    table_.clear();
    ep_ = nullptr;
    EXPECT_EQ(KernelObject::live_count(), live_before_) << "objects leaked (a reference not dropped)";
  }

  // Closes the endpoint's only handle: peer closed for everyone waiting.
  void close_endpoint() { ASSERT_TRUE(table_.remove(ep_handle_).ok()); }

  HandleTable table_;
  object::Handle ep_handle_ = object::kInvalidHandle;
  ktl::RefPtr<Endpoint> ep_;
  uint64_t live_before_ = 0;
};

// ---- FIFO order ----

TEST_F(EndpointTest, SendersAreReceivedInTheOrderTheySent) {
  constexpr int kSenders = 4;
  std::vector<ktl::Error> sent(kSenders, kNotRun);
  std::vector<std::unique_ptr<HostThread>> senders;
  for (int i = 0; i < kSenders; ++i) {
    senders.push_back(std::make_unique<HostThread>("sender", [&, i] {
      set_message(100 + i, {uint64_t(i), uint64_t(i * i)});
      sent[i] = ep_->send(/*badge=*/10 + i, /*is_call=*/false, kForever);
    }));
    ASSERT_TRUE(sched::host::wait_parked(senders.back()->get()));  // queued before the next one sends
  }
  std::vector<Message> got;
  HostThread receiver("receiver", [&] {
    for (int i = 0; i < kSenders; ++i) got.push_back(snapshot(ep_->receive(kPoll)));
    got.push_back(snapshot(ep_->receive(kPoll)));  // nothing left
  });
  join_or_kill(receiver);
  for (auto& s : senders) join_or_kill(*s);

  ASSERT_EQ(got.size(), size_t(kSenders + 1));
  for (int i = 0; i < kSenders; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(sent[i], ktl::Error::None);
    EXPECT_EQ(got[i].result, ktl::Error::None);
    EXPECT_EQ(got[i].label, uint32_t(100 + i));
    EXPECT_EQ(got[i].words, (std::vector<uint64_t>{uint64_t(i), uint64_t(i * i)}));
    EXPECT_EQ(got[i].badge, uint64_t(10 + i));
    EXPECT_EQ(got[i].flags, 0u);
    EXPECT_EQ(got[i].reply_to, nullptr);
  }
  EXPECT_EQ(got[kSenders].result, ktl::Error::TimedOut);
}

TEST_F(EndpointTest, ReceiversGetMessagesInTheOrderTheyStartedWaiting) {
  constexpr int kReceivers = 4;
  std::vector<Message> got(kReceivers);
  std::vector<std::unique_ptr<HostThread>> receivers;
  for (int i = 0; i < kReceivers; ++i) {
    receivers.push_back(
        std::make_unique<HostThread>("receiver", [&, i] { got[i] = snapshot(ep_->receive(kForever)); }));
    ASSERT_TRUE(sched::host::wait_parked(receivers.back()->get()));
  }
  HostThread sender("sender", [&] {
    for (int i = 0; i < kReceivers; ++i) {
      set_message(200 + i, {uint64_t(1000 + i)});
      EXPECT_EQ(ep_->send(/*badge=*/7, /*is_call=*/false, kForever), ktl::Error::None);
    }
  });
  join_or_kill(sender);
  for (auto& r : receivers) join_or_kill(*r);
  for (int i = 0; i < kReceivers; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].result, ktl::Error::None);
    EXPECT_EQ(got[i].label, uint32_t(200 + i));
    EXPECT_EQ(got[i].words, std::vector<uint64_t>{uint64_t(1000 + i)});
    EXPECT_EQ(got[i].badge, 7u);
  }
}

// ---- Delivery: words, badge, the call flag, the reply ----

// One call and its reply; `server_first`: the server waits before the call
// (send() finds a receiver) or the caller waits first (receive() finds it).
void call_and_reply(Endpoint& ep, bool server_first) {
  Message request, reply_got;
  ktl::Error replied = kNotRun;
  auto server_body = [&] {
    request = snapshot(ep.receive(kForever));
    uint64_t sum = 0;
    for (uint64_t w : request.words) sum += w;
    set_message(300, {sum, request.badge});
    replied = reply();
  };
  auto client_body = [&] {
    set_message(5, {1, 2, 3});
    reply_got = snapshot(ep.send(/*badge=*/42, /*is_call=*/true, kForever));
  };
  std::unique_ptr<HostThread> server, client;
  if (server_first) {
    server = std::make_unique<HostThread>("server", server_body);
    ASSERT_TRUE(sched::host::wait_parked(server->get()));
    client = std::make_unique<HostThread>("client", client_body);
  } else {
    client = std::make_unique<HostThread>("client", client_body);
    ASSERT_TRUE(sched::host::wait_parked(client->get()));
    server = std::make_unique<HostThread>("server", server_body);
  }
  join_or_kill(*server);
  join_or_kill(*client);

  EXPECT_EQ(request.result, ktl::Error::None);
  EXPECT_EQ(request.label, 5u);
  EXPECT_EQ(request.flags, kIpcFlagCall);
  EXPECT_EQ(request.words, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(request.badge, 42u);
  EXPECT_EQ(request.reply_to, client->get());
  EXPECT_EQ(replied, ktl::Error::None);
  EXPECT_EQ(reply_got.result, ktl::Error::None);
  EXPECT_EQ(reply_got.label, 300u);
  EXPECT_EQ(reply_got.flags, 0u);  // a reply is not a call
  EXPECT_EQ(reply_got.words, (std::vector<uint64_t>{6, 42}));
  EXPECT_EQ(reply_got.badge, 0u);
  EXPECT_EQ((*server)->ipc.reply_to, nullptr);  // the reply used up the reply capability
}

TEST_F(EndpointTest, CallToAWaitingServerCarriesWordsBadgeAndCallFlagAndGetsTheReply) {
  call_and_reply(*ep_, /*server_first=*/true);
}

TEST_F(EndpointTest, CallQueuedBeforeTheServerCarriesWordsBadgeAndCallFlagAndGetsTheReply) {
  call_and_reply(*ep_, /*server_first=*/false);
}

TEST_F(EndpointTest, OneWaySendHasNoCallFlagAndLeavesNothingToReplyTo) {
  Message got;
  ktl::Error replied = kNotRun, sent = kNotRun;
  Gate sender_done;
  HostThread receiver("receiver", [&] {
    got = snapshot(ep_->receive(kForever));
    sender_done.wait();  // the sender did not wait for a reply
    replied = reply();
  });
  ASSERT_TRUE(sched::host::wait_parked(receiver.get()));
  HostThread sender("sender", [&] {
    set_message(1, {11});
    sent = ep_->send(/*badge=*/3, /*is_call=*/false, kForever);
  });
  join_or_kill(sender);
  sender_done.open();
  join_or_kill(receiver);
  EXPECT_EQ(sent, ktl::Error::None);
  EXPECT_EQ(got.result, ktl::Error::None);
  EXPECT_EQ(got.flags, 0u);
  EXPECT_EQ(got.badge, 3u);
  EXPECT_EQ(got.reply_to, nullptr);
  EXPECT_EQ(replied, ktl::Error::BadState);
}

TEST_F(EndpointTest, ReplyAndReceiveWakesTheCallerAndWaitsForTheNextMessage) {
  // The server path of ipc_reply_recv: reply_deferred(), then receive() with
  // the caller to wake.
  Message first, second, reply_got;
  HostThread server("server", [&] {
    first = snapshot(ep_->receive(kForever));
    set_message(2, {first.words.at(0) + 1});
    auto caller = reply_deferred();
    ASSERT_TRUE(caller.ok());
    EXPECT_EQ(caller->get(), first.reply_to);
    second = snapshot(ep_->receive(kForever, caller.release_value()));
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(1, {41});
    reply_got = snapshot(ep_->send(9, true, kForever));
    set_message(3, {});
    EXPECT_EQ(ep_->send(9, false, kForever), ktl::Error::None);
  });
  join_or_kill(client);
  join_or_kill(server);
  EXPECT_EQ(reply_got.result, ktl::Error::None);
  EXPECT_EQ(reply_got.label, 2u);
  EXPECT_EQ(reply_got.words, std::vector<uint64_t>{42});
  EXPECT_EQ(second.result, ktl::Error::None);
  EXPECT_EQ(second.label, 3u);
  EXPECT_EQ(second.flags, 0u);
}

// ---- The fast paths (fast_call, fast_reply_recv) ----

TEST_F(EndpointTest, FastCallHandsTheCallToAWaitingServer) {
  Message request, reply_got;
  bool took = false;
  HostThread server("server", [&] {
    request = snapshot(ep_->receive(kForever));
    set_message(request.label + 1, {request.words.at(3)});
    EXPECT_EQ(reply(), ktl::Error::None);
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(7, {1, 2, 3, 4});
    ktl::Error e = kNotRun;
    took = ep_->fast_call(/*badge=*/5, &e);
    reply_got = snapshot(e);
  });
  join_or_kill(client);
  join_or_kill(server);
  EXPECT_TRUE(took);
  EXPECT_EQ(request.result, ktl::Error::None);
  EXPECT_EQ(request.label, 7u);
  EXPECT_EQ(request.flags, kIpcFlagCall);
  EXPECT_EQ(request.words, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(request.badge, 5u);
  EXPECT_EQ(request.reply_to, client.get());
  EXPECT_TRUE(request.handles.empty());
  EXPECT_EQ(reply_got.result, ktl::Error::None);
  EXPECT_EQ(reply_got.label, 8u);
  EXPECT_EQ(reply_got.words, std::vector<uint64_t>{4});
}

TEST_F(EndpointTest, FastCallChangesNothingWhenNoServerCanTakeIt) {
  // Nobody waiting; then a server waiting with a deadline (the fast path
  // needs one it can switch to); then the endpoint closed.
  bool took_empty = true, took_deadline = true, took_closed = true;
  ktl::Error poll_receive = kNotRun, server_result = kNotRun;
  Gate first_tried, server_waits;
  HostThread client("client", [&] {
    set_message(1, {10});
    ktl::Error e = kNotRun;
    took_empty = ep_->fast_call(1, &e);
    EXPECT_EQ(e, kNotRun);
    EXPECT_EQ(IpcTag::label(my_ipc().msg.tag), 1u);
    first_tried.open();
    server_waits.wait();
    took_deadline = ep_->fast_call(1, &e);
  });
  first_tried.wait();
  // Nothing was queued by the first attempt.
  HostThread poller("poller", [&] { poll_receive = ep_->receive(kPoll); });
  join_or_kill(poller);
  EXPECT_EQ(poll_receive, ktl::Error::TimedOut);
  HostThread server("server", [&] { server_result = ep_->receive(sched::host::now_ns() + 100); });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  server_waits.open();
  join_or_kill(client);
  EXPECT_TRUE(sched::host::is_parked(server.get()));  // not handed the call
  sched::host::advance_clock(100);
  join_or_kill(server);
  EXPECT_FALSE(took_empty);
  EXPECT_FALSE(took_deadline);
  EXPECT_EQ(server_result, ktl::Error::TimedOut);
  close_endpoint();
  HostThread late("late", [&] {
    set_message(1, {});
    ktl::Error e = kNotRun;
    took_closed = ep_->fast_call(1, &e);
  });
  join_or_kill(late);
  EXPECT_FALSE(took_closed);
}

TEST_F(EndpointTest, FastReplyRecvRepliesAndWaitsForTheNextMessage) {
  Message reply_got, next;
  bool took = false;
  HostThread server("server", [&] {
    Message request = snapshot(ep_->receive(kForever));
    // The fast path needs the caller parked (else it falls back, correctly).
    ASSERT_TRUE(sched::host::wait_parked(request.reply_to));
    set_message(request.label + 1, {request.words.at(0) * 2});
    ktl::Error e = kNotRun;
    took = ep_->fast_reply_recv(&e);
    next = snapshot(e);
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(20, {21});
    reply_got = snapshot(ep_->send(3, true, kForever));
    set_message(30, {31});
    EXPECT_EQ(ep_->send(3, false, kForever), ktl::Error::None);
  });
  join_or_kill(client);
  join_or_kill(server);
  EXPECT_TRUE(took);
  EXPECT_EQ(reply_got.result, ktl::Error::None);
  EXPECT_EQ(reply_got.label, 21u);
  EXPECT_EQ(reply_got.words, std::vector<uint64_t>{42});
  EXPECT_EQ(reply_got.flags, 0u);
  EXPECT_EQ(next.result, ktl::Error::None);
  EXPECT_EQ(next.label, 30u);
  EXPECT_EQ(next.words, std::vector<uint64_t>{31});
  EXPECT_EQ(next.reply_to, nullptr);
}

TEST_F(EndpointTest, FastReplyRecvChangesNothingWhenTheCallerWaitsWithADeadline) {
  Message reply_got;
  bool took = true;
  HostThread server("server", [&] {
    EXPECT_EQ(ep_->receive(kForever), ktl::Error::None);
    sched::Thread* caller = my_ipc().reply_to;
    ASSERT_TRUE(sched::host::wait_parked(caller));  // parked, but with a deadline
    set_message(2, {});
    ktl::Error e = kNotRun;
    took = ep_->fast_reply_recv(&e);
    EXPECT_EQ(my_ipc().reply_to, caller);  // still owed
    EXPECT_EQ(reply(), ktl::Error::None);
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(1, {});
    reply_got = snapshot(ep_->send(0, true, sched::host::now_ns() + 1'000'000));
  });
  join_or_kill(client);
  join_or_kill(server);
  EXPECT_FALSE(took);
  EXPECT_EQ(reply_got.result, ktl::Error::None);
  EXPECT_EQ(reply_got.label, 2u);
}

TEST_F(EndpointTest, FastReplyRecvLeavesACallerThatGaveUpAndWaitsForSomethingElse) {
  // The caller times out, then blocks in an unrelated wait with no deadline,
  // so it can be claimed: its ipc.done (set when it gave up) must stop the
  // fast reply, and the fallback drops the reply.
  bool took = true;
  ktl::Error server_next = kNotRun, call = kNotRun, other_wait = kNotRun;
  Gate caller_gone;
  HostThread server("server", [&] {
    EXPECT_EQ(ep_->receive(kForever), ktl::Error::None);
    caller_gone.wait();
    set_message(2, {});
    ktl::Error e = kNotRun;
    took = ep_->fast_reply_recv(&e);
    EXPECT_NE(my_ipc().reply_to, nullptr);
    server_next = syscall_reply_recv(*ep_, kPoll);  // the general path: reply dropped, nothing queued
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(1, {});
    call = ep_->send(0, true, sched::host::now_ns() + 100);
    other_wait = sched::park(kForever);  // some other wait
  });
  ASSERT_TRUE(sched::host::wait_parked_nth(client.get(), 1));
  sched::host::advance_clock(100);
  ASSERT_TRUE(sched::host::wait_parked_nth(client.get(), 2));
  caller_gone.open();
  join_or_kill(server);
  EXPECT_TRUE(sched::host::is_parked(client.get()));  // the reply did not wake it
  sched::unpark(client.get());
  join_or_kill(client);
  EXPECT_FALSE(took);
  EXPECT_EQ(call, ktl::Error::TimedOut);
  EXPECT_EQ(server_next, ktl::Error::TimedOut);
  EXPECT_EQ(other_wait, ktl::Error::None);
  EXPECT_EQ(IpcTag::label(client->ipc.msg.tag), 1u);
}

// ---- Handles in flight ----

TEST_F(EndpointTest, HandlesMoveWithTheMessage) {
  Counters counters;
  HandleTable sender_table, receiver_table;
  auto a = TestObject::make(&counters), b = TestObject::make(&counters);
  Message got;
  HostThread receiver("receiver", [&] {
    got = snapshot(ep_->receive(kForever));
    install_handles(receiver_table);
  });
  ASSERT_TRUE(sched::host::wait_parked(receiver.get()));
  HostThread sender("sender", [&] {
    set_message(1, {});
    attach_handles(sender_table, {a, b});
    EXPECT_EQ(ep_->send(0, false, kForever), ktl::Error::None);
    EXPECT_EQ(my_ipc().handle_count, 0u);  // moved, not copied
    EXPECT_FALSE(my_ipc().handles[0].object);
    EXPECT_FALSE(my_ipc().handles[1].object);
  });
  join_or_kill(sender);
  join_or_kill(receiver);
  EXPECT_EQ(got.handles, (std::vector<KernelObject*>{a.get(), b.get()}));
  EXPECT_EQ(sender_table.count(), 0u);
  EXPECT_EQ(receiver_table.count(), 2u);
  EXPECT_EQ(a->handle_count(), 1u);  // counted once, in flight and after
  EXPECT_EQ(b->handle_count(), 1u);
  EXPECT_EQ(counters.zero_handles, 0);
  receiver_table.clear();
  EXPECT_EQ(counters.zero_handles, 2);
}

TEST_F(EndpointTest, ReplyCarriesHandlesToTheCaller) {
  Counters counters;
  HandleTable client_table, server_table;
  auto obj = TestObject::make(&counters);
  Message reply_got;
  HostThread server("server", [&] {
    EXPECT_EQ(ep_->receive(kForever), ktl::Error::None);
    set_message(1, {});
    attach_handles(server_table, {obj});
    EXPECT_EQ(reply(), ktl::Error::None);
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(1, {});
    reply_got = snapshot(ep_->send(0, true, kForever));
    install_handles(client_table);
  });
  join_or_kill(client);
  join_or_kill(server);
  EXPECT_EQ(reply_got.handles, std::vector<KernelObject*>{obj.get()});
  EXPECT_EQ(client_table.count(), 1u);
  EXPECT_EQ(obj->handle_count(), 1u);
}

TEST_F(EndpointTest, HandlesOfASendThatTimesOutAreClosed) {
  for (bool is_call : {false, true}) {
    SCOPED_TRACE(is_call ? "call" : "send");
    Counters counters;
    HandleTable table;
    auto obj = TestObject::make(&counters);
    ktl::Error sent = kNotRun;
    uint64_t deadline = sched::host::now_ns() + 1000;
    HostThread sender("sender", [&] {
      set_message(1, {});
      attach_handles(table, {obj});
      sent = ep_->send(0, is_call, deadline);
      EXPECT_EQ(my_ipc().handle_count, 0u);
    });
    ASSERT_TRUE(sched::host::wait_parked(sender.get()));
    sched::host::advance_clock(1000);
    join_or_kill(sender);
    EXPECT_EQ(sent, ktl::Error::TimedOut);
    EXPECT_EQ(obj->handle_count(), 0u);
    EXPECT_EQ(counters.zero_handles, 1);
  }
}

TEST_F(EndpointTest, HandlesOfAPollSendWithNobodyReceivingAreClosed) {
  Counters counters;
  HandleTable table;
  auto obj = TestObject::make(&counters);
  ktl::Error sent = kNotRun;
  HostThread sender("sender", [&] {
    set_message(1, {});
    attach_handles(table, {obj});
    sent = ep_->send(0, false, kPoll);
  });
  join_or_kill(sender);
  EXPECT_EQ(sent, ktl::Error::TimedOut);
  EXPECT_EQ(sched::host::blocking_parks(sender.get()), 0u);
  EXPECT_EQ(counters.zero_handles, 1);
}

TEST_F(EndpointTest, HandlesSentToAClosedEndpointAreClosed) {
  Counters counters;
  HandleTable table;
  auto obj = TestObject::make(&counters);
  close_endpoint();
  ktl::Error sent = kNotRun;
  HostThread sender("sender", [&] {
    set_message(1, {});
    attach_handles(table, {obj});
    sent = ep_->send(0, true, kForever);
  });
  join_or_kill(sender);
  EXPECT_EQ(sent, ktl::Error::PeerClosed);
  EXPECT_EQ(counters.zero_handles, 1);
}

// A regression test: a queued sender failed by on_zero_handles() once kept
// its handles in ipc.handles (still counted: their objects never saw
// on_zero_handles(), and the thread's next copy_in() failed).
TEST_F(EndpointTest, HandlesOfASenderQueuedWhenTheEndpointClosesAreClosed) {
  Counters counters;
  HandleTable table;
  auto obj = TestObject::make(&counters);
  ktl::Error sent = kNotRun;
  uint32_t left_in_flight = 99;
  int zero_handles_after_send = -1;
  HostThread sender("sender", [&] {
    set_message(1, {});
    attach_handles(table, {obj});
    sent = ep_->send(0, false, kForever);
    // Looked at before the thread exits (thread_exiting drops what is left).
    left_in_flight = my_ipc().handle_count;
    zero_handles_after_send = counters.zero_handles;
  });
  ASSERT_TRUE(sched::host::wait_parked(sender.get()));
  close_endpoint();
  join_or_kill(sender);
  EXPECT_EQ(sent, ktl::Error::PeerClosed);
  EXPECT_EQ(left_in_flight, 0u);
  EXPECT_EQ(zero_handles_after_send, 1);
}

// ---- Timeouts ----

TEST_F(EndpointTest, ReceiveWithAPastDeadlineTimesOutAtOnce) {
  std::vector<ktl::Error> results;
  ktl::Error late_send = kNotRun;
  HostThread receiver("receiver", [&] {
    results.push_back(ep_->receive(kPoll));
    results.push_back(ep_->receive(1));                      // long past
    results.push_back(ep_->receive(sched::host::now_ns()));  // now is not in the future
  });
  join_or_kill(receiver);
  EXPECT_EQ(results, (std::vector<ktl::Error>(3, ktl::Error::TimedOut)));
  EXPECT_EQ(sched::host::blocking_parks(receiver.get()), 0u);
  // None of them stayed queued: a poll send finds no receiver.
  HostThread sender("sender", [&] {
    set_message(1, {});
    late_send = ep_->send(0, false, kPoll);
  });
  join_or_kill(sender);
  EXPECT_EQ(late_send, ktl::Error::TimedOut);
}

TEST_F(EndpointTest, ReceiverTimesOutAtItsDeadlineAndLeavesTheQueue) {
  ktl::Error received = kNotRun, late_send = kNotRun;
  uint64_t deadline = sched::host::now_ns() + 500;
  HostThread receiver("receiver", [&] { received = ep_->receive(deadline); });
  ASSERT_TRUE(sched::host::wait_parked(receiver.get()));
  sched::host::advance_clock(499);
  EXPECT_TRUE(sched::host::is_parked(receiver.get()));  // not early
  sched::host::advance_clock(1);
  join_or_kill(receiver);
  EXPECT_EQ(received, ktl::Error::TimedOut);
  HostThread sender("sender", [&] {
    set_message(1, {});
    late_send = ep_->send(0, false, kPoll);
  });
  join_or_kill(sender);
  EXPECT_EQ(late_send, ktl::Error::TimedOut);
}

TEST_F(EndpointTest, QueuedSenderThatTimesOutIsWithdrawn) {
  // Two senders queue; the first times out; a receiver then gets only the
  // second one's message.
  ktl::Error first = kNotRun, second = kNotRun;
  uint64_t deadline = sched::host::now_ns() + 100;
  HostThread s1("s1", [&] {
    set_message(1, {111});
    first = ep_->send(1, true, deadline);
  });
  ASSERT_TRUE(sched::host::wait_parked(s1.get()));
  HostThread s2("s2", [&] {
    set_message(2, {222});
    second = ep_->send(2, false, kForever);
  });
  ASSERT_TRUE(sched::host::wait_parked(s2.get()));
  sched::host::advance_clock(100);
  join_or_kill(s1);
  EXPECT_EQ(first, ktl::Error::TimedOut);
  std::vector<Message> got;
  HostThread receiver("receiver", [&] {
    got.push_back(snapshot(ep_->receive(kPoll)));
    got.push_back(snapshot(ep_->receive(kPoll)));
  });
  join_or_kill(receiver);
  join_or_kill(s2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].result, ktl::Error::None);
  EXPECT_EQ(got[0].label, 2u);
  EXPECT_EQ(got[0].words, std::vector<uint64_t>{222});
  EXPECT_EQ(got[0].badge, 2u);
  EXPECT_EQ(got[1].result, ktl::Error::TimedOut);
  EXPECT_EQ(second, ktl::Error::None);
}

// ---- Interrupted (a thread killed while it waits) ----

TEST_F(EndpointTest, KilledReceiverIsInterruptedAndWithdrawn) {
  ktl::Error received = kNotRun, late_send = kNotRun;
  HostThread receiver("receiver", [&] { received = ep_->receive(kForever); });
  ASSERT_TRUE(sched::host::wait_parked(receiver.get()));
  sched::host::kill(receiver.get());
  join_or_kill(receiver);
  EXPECT_EQ(received, ktl::Error::Interrupted);
  HostThread sender("sender", [&] {
    set_message(1, {});
    late_send = ep_->send(0, false, kPoll);
  });
  join_or_kill(sender);
  EXPECT_EQ(late_send, ktl::Error::TimedOut);
}

// ---- Peer closed ----

TEST_F(EndpointTest, ClosingTheLastHandleFailsQueuedSenders) {
  ktl::Error call = kNotRun, send = kNotRun;
  HostThread caller("caller", [&] {
    set_message(1, {});
    call = ep_->send(1, true, kForever);
  });
  ASSERT_TRUE(sched::host::wait_parked(caller.get()));
  HostThread sender("sender", [&] {
    set_message(2, {});
    send = ep_->send(2, false, kForever);
  });
  ASSERT_TRUE(sched::host::wait_parked(sender.get()));
  close_endpoint();
  join_or_kill(caller);
  join_or_kill(sender);
  EXPECT_EQ(call, ktl::Error::PeerClosed);
  EXPECT_EQ(send, ktl::Error::PeerClosed);
  // Closed for good: later operations fail at once.
  ktl::Error later_send = kNotRun, later_receive = kNotRun;
  HostThread late("late", [&] {
    set_message(3, {});
    later_send = ep_->send(0, false, kForever);
    later_receive = ep_->receive(kForever);
  });
  join_or_kill(late);
  EXPECT_EQ(later_send, ktl::Error::PeerClosed);
  EXPECT_EQ(later_receive, ktl::Error::PeerClosed);
  EXPECT_EQ(sched::host::blocking_parks(late.get()), 0u);
}

TEST_F(EndpointTest, ClosingTheLastHandleFailsQueuedReceivers) {
  constexpr int kReceivers = 3;
  std::vector<ktl::Error> results(kReceivers, kNotRun);
  std::vector<std::unique_ptr<HostThread>> receivers;
  for (int i = 0; i < kReceivers; ++i) {
    receivers.push_back(
        std::make_unique<HostThread>("receiver", [&, i] { results[i] = ep_->receive(kForever); }));
    ASSERT_TRUE(sched::host::wait_parked(receivers.back()->get()));
  }
  close_endpoint();
  for (auto& r : receivers) join_or_kill(*r);
  EXPECT_EQ(results, std::vector<ktl::Error>(kReceivers, ktl::Error::PeerClosed));
}

TEST_F(EndpointTest, ClosingAHandleThatIsNotTheLastChangesNothing) {
  object::Handle dup = table_.duplicate(ep_handle_, object::kRightRead | object::kRightWrite).value();
  Message got;
  HostThread receiver("receiver", [&] { got = snapshot(ep_->receive(kForever)); });
  ASSERT_TRUE(sched::host::wait_parked(receiver.get()));
  ASSERT_TRUE(table_.remove(dup).ok());
  EXPECT_TRUE(sched::host::is_parked(receiver.get()));
  HostThread sender("sender", [&] {
    set_message(8, {});
    EXPECT_EQ(ep_->send(0, false, kForever), ktl::Error::None);
  });
  join_or_kill(sender);
  join_or_kill(receiver);
  EXPECT_EQ(got.result, ktl::Error::None);
  EXPECT_EQ(got.label, 8u);
}

TEST_F(EndpointTest, ServerExitingOwingAReplyGivesTheCallerPeerClosed) {
  Counters counters;
  HandleTable server_table;
  auto obj = TestObject::make(&counters);
  ktl::Error call = kNotRun;
  Gate call_taken;
  HostThread server("server", [&] {
    EXPECT_EQ(ep_->receive(kForever), ktl::Error::None);
    EXPECT_NE(my_ipc().reply_to, nullptr);
    // It had taken handles for the reply, then exits without replying.
    set_message(1, {});
    attach_handles(server_table, {obj});
    call_taken.wait();
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  HostThread client("client", [&] {
    set_message(1, {});
    call = ep_->send(0, true, kForever);
  });
  ASSERT_TRUE(sched::host::wait_parked(client.get()));
  call_taken.open();
  join_or_kill(server);
  join_or_kill(client);
  EXPECT_EQ(call, ktl::Error::PeerClosed);
  EXPECT_EQ(counters.zero_handles, 1);  // thread_exiting closed the reply's handles
}

TEST_F(EndpointTest, ReplyWithoutACallerIsBadStateAndClosesItsHandles) {
  Counters counters;
  HandleTable table;
  auto obj = TestObject::make(&counters);
  ktl::Error replied = kNotRun, deferred = kNotRun;
  HostThread t("t", [&] {
    set_message(1, {});
    attach_handles(table, {obj});
    replied = reply();
    EXPECT_EQ(my_ipc().handle_count, 0u);
    deferred = reply_deferred().error();
  });
  join_or_kill(t);
  EXPECT_EQ(replied, ktl::Error::BadState);
  EXPECT_EQ(deferred, ktl::Error::BadState);
  EXPECT_EQ(counters.zero_handles, 1);
}

// A caller gives up (timeout or kill) after the server took its call; the
// late reply is dropped with its handles, and nothing breaks.
void late_reply_after_caller_gave_up(Endpoint& ep, bool by_kill) {
  Counters counters;
  HandleTable server_table;
  auto obj = TestObject::make(&counters);
  Message request;
  ktl::Error call = kNotRun, replied = kNotRun;
  Gate caller_gone;
  HostThread server("server", [&] {
    request = snapshot(ep.receive(kForever));
    caller_gone.wait();
    set_message(99, {99});
    attach_handles(server_table, {obj});
    replied = reply();
    EXPECT_EQ(my_ipc().handle_count, 0u);
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  uint64_t deadline = by_kill ? kForever : sched::host::now_ns() + 1000;
  HostThread client("client", [&] {
    set_message(5, {55});
    call = ep.send(1, true, deadline);
  });
  ASSERT_TRUE(sched::host::wait_parked(client.get()));  // waiting for the reply
  if (by_kill) {
    sched::host::kill(client.get());
  } else {
    sched::host::advance_clock(1000);
  }
  join_or_kill(client);
  EXPECT_EQ(call, by_kill ? ktl::Error::Interrupted : ktl::Error::TimedOut);
  caller_gone.open();
  join_or_kill(server);
  EXPECT_EQ(request.result, ktl::Error::None);
  EXPECT_EQ(request.reply_to, client.get());
  EXPECT_EQ(replied, ktl::Error::None);  // the server is not told
  EXPECT_EQ(counters.zero_handles, 1);   // the reply's handle was closed
  EXPECT_EQ(obj->handle_count(), 0u);
  EXPECT_EQ(IpcTag::label(client->ipc.msg.tag), 5u);  // nothing was written to the caller
  EXPECT_EQ(client->ipc.handle_count, 0u);
}

TEST_F(EndpointTest, LateReplyToACallerThatTimedOutIsDropped) {
  late_reply_after_caller_gave_up(*ep_, false);
}

TEST_F(EndpointTest, LateReplyToACallerThatWasKilledIsDropped) {
  late_reply_after_caller_gave_up(*ep_, true);
}

// A regression test: the caller that gave up stays the server's reply_to,
// and a late reply (or the server's exit: PeerClosed) once landed in
// whatever the caller did next — here its second call, queued on another
// endpoint, returned the first server's reply while still linked in that
// endpoint's sender queue. ThreadIpc::op_seq now tells the calls apart.
TEST_F(EndpointTest, LateReplyDoesNotLandInTheCallersNextCall) {
  auto other = Endpoint::create(nullptr).release_value();
  Message second;
  ktl::Error first = kNotRun, replied = kNotRun;
  Gate caller_moved_on;
  HostThread server("server", [&] {
    EXPECT_EQ(ep_->receive(kForever), ktl::Error::None);
    caller_moved_on.wait();
    set_message(99, {99});
    replied = reply();
  });
  ASSERT_TRUE(sched::host::wait_parked(server.get()));
  uint64_t deadline1 = sched::host::now_ns() + 1000, deadline2 = deadline1 + 1000;
  HostThread client("client", [&] {
    set_message(5, {});
    first = ep_->send(1, true, deadline1);
    set_message(6, {});
    second = snapshot(other->send(2, true, deadline2));  // nobody serves `other`
  });
  ASSERT_TRUE(sched::host::wait_parked_nth(client.get(), 1));
  sched::host::advance_clock(1000);
  ASSERT_TRUE(sched::host::wait_parked_nth(client.get(), 2));  // queued on `other`
  caller_moved_on.open();
  join_or_kill(server);
  EXPECT_TRUE(sched::host::is_parked(client.get())) << "the late reply woke the caller's next call";
  sched::host::advance_clock(1000);
  join_or_kill(client);
  EXPECT_EQ(first, ktl::Error::TimedOut);
  EXPECT_EQ(replied, ktl::Error::None);
  EXPECT_EQ(second.result, ktl::Error::TimedOut);
  EXPECT_NE(second.label, 99u);
  // Whatever happened, leave `other` with no dangling queue entry.
  HostThread drain("drain", [&] {
    while (other->receive(kPoll) == ktl::Error::None) {
      if (my_ipc().reply_to) (void)reply();
    }
  });
  join_or_kill(drain);
}

// ---- Concurrency ----

// Dumps what each thread is doing, for a stress test that did not finish.
void dump(const std::vector<std::unique_ptr<HostThread>>& threads) {
  for (const auto& t : threads) {
    std::fprintf(stderr, "  %s: parked=%d done=%d queued=%d reply_to=%p\n", (*t)->name(),
                 sched::host::is_parked(t->get()), (*t)->ipc.done, (*t)->ipc.queued_on != nullptr,
                 static_cast<void*>((*t)->ipc.reply_to));
  }
}

// True if all of `threads` exit within `timeout` (real time) in all.
bool all_exited(const std::vector<std::unique_ptr<HostThread>>& threads, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (const auto& t : threads) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (!sched::host::wait_exited(t->get(), std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

// N callers × M calls against K servers on one endpoint. Every reply must be
// the answer to its own request (the server echoes the words and appends the
// badge it saw), and everything must finish (no lost wake-ups). The servers
// answer in the three ways there are: reply() then receive(); reply_deferred()
// then receive(wake); and as sys_ipc_reply_recv, fast path first. Half the
// callers call as sys_ipc_call (fast path first), half with send().
TEST_F(EndpointTest, StressManyCallersManyServers) {
  constexpr int kServers = 3, kClients = 6, kCalls = 500;
  std::atomic<int> bad{0}, served{0};
  const uint64_t switches_before = sched::host::claimed_switches();
  std::vector<std::unique_ptr<HostThread>> servers, clients;
  for (int s = 0; s < kServers; ++s) {
    servers.push_back(std::make_unique<HostThread>("server", [&, s] {
      ktl::Error e = ep_->receive(kForever);
      for (;;) {
        if (e == ktl::Error::PeerClosed || sched::current()->kill_pending) return;
        ThreadIpc& me = my_ipc();
        if (e != ktl::Error::None || me.reply_to == nullptr) {
          if (bad++ < 5)
            ADD_FAILURE() << "server " << s << ": receive " << ktl::error_name(e) << ", no caller";
          e = ep_->receive(kForever);
          continue;
        }
        if (!(IpcTag::flags(me.msg.tag) & kIpcFlagCall) && bad++ < 5)
          ADD_FAILURE() << "a call without the call flag";
        served++;
        uint32_t n = IpcTag::words(me.msg.tag);
        me.msg.words[n] = me.badge;  // echo, plus the badge
        me.msg.tag = IpcTag::make(IpcTag::label(me.msg.tag) + 1, n + 1, 0, 0);
        if (s == 0) {
          if (reply() != ktl::Error::None && bad++ < 5) ADD_FAILURE() << "reply failed";
          e = ep_->receive(kForever);
        } else {
          e = syscall_reply_recv(*ep_, kForever, /*allow_fast=*/s == 2);
        }
      }
    }));
  }
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<HostThread>("client", [&, c] {
      const uint64_t badge = 0x1000 + c;
      for (int i = 0; i < kCalls; ++i) {
        std::vector<uint64_t> words;
        for (int w = 0; w < 1 + i % 6; ++w)
          words.push_back(uint64_t(c) << 32 | uint64_t(i) << 8 | uint64_t(w));
        set_message(i, words);
        ktl::Error e = c % 2 ? syscall_call(*ep_, badge, kForever) : ep_->send(badge, true, kForever);
        if (sched::current()->kill_pending) return;  // the test gave up on us
        Message r = snapshot(e);
        words.push_back(badge);
        if (e != ktl::Error::None || r.label != uint32_t(i + 1) || r.words != words || r.flags != 0) {
          if (bad++ < 5) {
            ADD_FAILURE() << "client " << c << " call " << i << ": " << ktl::error_name(e) << ", label "
                          << r.label;
          }
        }
      }
    }));
  }
  if (!all_exited(clients, 30s)) {
    std::fprintf(stderr, "stress test stuck; servers then clients:\n");
    dump(servers);
    dump(clients);
    ADD_FAILURE() << "callers did not finish: a lost wake-up";
  }
  for (auto& t : clients) join_or_kill(*t, 1s);
  close_endpoint();  // the servers' receive() returns PeerClosed
  for (auto& t : servers) join_or_kill(*t);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(served, kClients * kCalls);
  EXPECT_GT(sched::host::claimed_switches(), switches_before);  // the fast paths ran
}

// Calls with handles and deadlines while the fake clock runs: every call ends
// in a reply that matches or TimedOut, and every handle put in flight is
// closed exactly once (delivered and then closed by its receiver, or dropped
// with an undelivered message or a reply nobody waits for). A caller stops at
// its first TimedOut (it cannot tell a withdrawn call from an abandoned one);
// new callers keep coming in waves.
TEST_F(EndpointTest, StressTimeoutsAndHandlesInFlight) {
  constexpr int kServers = 2, kWaves = 10, kClientsPerWave = 6, kMaxCalls = 100;
  Counters counters;
  std::atomic<int> bad{0}, replies{0}, timeouts{0};
  std::vector<std::unique_ptr<HostThread>> servers;
  for (int s = 0; s < kServers; ++s) {
    servers.push_back(std::make_unique<HostThread>("server", [&, s] {
      HandleTable table;
      std::minstd_rand rng(s + 1);
      ktl::Error e = ep_->receive(kForever);
      for (;;) {
        if (e == ktl::Error::PeerClosed || sched::current()->kill_pending) return;
        if (e != ktl::Error::None) {
          if (bad++ < 5) ADD_FAILURE() << "server receive: " << ktl::error_name(e);
          e = ep_->receive(kForever);
          continue;
        }
        install_and_close_handles(table);
        uint32_t label = IpcTag::label(my_ipc().msg.tag);
        set_message(label + 1, {my_ipc().badge});
        if (label % 2 == 0)
          attach_handles(table, {TestObject::make(&counters)});  // else the fast path may reply
        if (rng() % 2) {
          if (reply() != ktl::Error::None && bad++ < 5) ADD_FAILURE() << "reply failed";
          e = ep_->receive(kForever);
        } else {
          e = syscall_reply_recv(*ep_, kForever);
        }
      }
    }));
  }
  std::atomic<bool> stop_clock{false};
  std::thread ticker([&] {
    while (!stop_clock.load()) {
      sched::host::advance_clock(50);
      std::this_thread::sleep_for(20us);
    }
  });
  std::vector<std::unique_ptr<HostThread>> all_clients;
  for (int w = 0; w < kWaves; ++w) {
    std::vector<std::unique_ptr<HostThread>> wave;
    for (int c = 0; c < kClientsPerWave; ++c) {
      const uint64_t badge = uint64_t(w) << 16 | c;
      wave.push_back(std::make_unique<HostThread>("client", [&, badge] {
        HandleTable table;
        std::minstd_rand rng(static_cast<uint32_t>(badge) + 7);
        for (int i = 0; i < kMaxCalls; ++i) {
          set_message(i, {uint64_t(i)});
          if (rng() % 2) attach_handles(table, {TestObject::make(&counters)});
          uint32_t pick = rng() % 32;
          uint64_t deadline = pick == 0 ? kPoll : pick <= 2 ? sched::host::now_ns() + rng() % 400 : kForever;
          ktl::Error e = syscall_call(*ep_, badge, deadline);
          if (sched::current()->kill_pending) return;  // the test gave up on us
          if (e == ktl::Error::TimedOut) {
            timeouts++;
            return;
          }
          Message r = snapshot(e);
          replies++;
          if (e != ktl::Error::None || r.label != uint32_t(i + 1) ||
              r.words != std::vector<uint64_t>{badge} || r.handles.size() != (i % 2 == 0 ? 1u : 0u)) {
            if (bad++ < 5)
              ADD_FAILURE() << "call " << i << ": " << ktl::error_name(e) << ", label " << r.label;
          }
          install_and_close_handles(table);
        }
      }));
    }
    bool stuck = !all_exited(wave, 30s);
    if (stuck) {
      std::fprintf(stderr, "stress test stuck; servers then clients of wave %d:\n", w);
      dump(servers);
      dump(wave);
      ADD_FAILURE() << "callers did not finish: a lost wake-up";
    }
    for (auto& t : wave) join_or_kill(*t, 1s);
    for (auto& t : wave) all_clients.push_back(std::move(t));
    if (stuck) break;
  }
  close_endpoint();
  for (auto& t : servers) join_or_kill(*t);
  stop_clock = true;
  ticker.join();
  EXPECT_EQ(bad, 0);
  EXPECT_GT(replies, 0);
  EXPECT_GT(timeouts, 0);
  EXPECT_EQ(counters.zero_handles.load(), counters.created.load())
      << "a handle in flight was not closed, or twice";
  all_clients.clear();
  servers.clear();
  EXPECT_EQ(counters.destroyed.load(), counters.created.load());
}

}  // namespace
}  // namespace ipc
