#include "io/event_loop.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "io/event_fd.hpp"
#include "io/timer_fd.hpp"

namespace uipsec {
namespace {

std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  EXPECT_TRUE(loop.ok()) << loop.error().message();
  return std::move(*loop);
}

EventFd make_event() {
  auto e = EventFd::create();
  EXPECT_TRUE(e.ok());
  return std::move(*e);
}

TEST(EventFd, CountsSignalsAndDrainsThem) {
  EventFd e = make_event();
  EXPECT_EQ(e.drain(), 0u) << "nothing pending, never blocks";
  e.signal();
  e.signal();
  e.signal();
  EXPECT_EQ(e.drain(), 3u);
  EXPECT_EQ(e.drain(), 0u);
}

TEST(EventLoop, RunsTheCallbackOfAReadyDescriptor) {
  auto loop = make_loop();
  EventFd e = make_event();
  std::uint32_t seen = 0;
  int calls = 0;
  ASSERT_TRUE(loop->add(e.fd(), EPOLLIN,
                        [&](std::uint32_t events) {
                          seen = events;
                          ++calls;
                          e.drain();
                        })
                  .ok());
  EXPECT_TRUE(loop->contains(e.fd()));
  auto idle = loop->run_once(0);
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(*idle, 0u) << "nothing ready, nothing runs";
  e.signal();
  auto ran = loop->run_once(1000);
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(*ran, 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(seen & EPOLLIN);
  EXPECT_EQ(*loop->run_once(0), 0u) << "level-triggered: drained means quiet";
}

TEST(EventLoop, ModifiesAndRemovesRegistrations) {
  auto loop = make_loop();
  EventFd e = make_event();
  std::uint32_t seen = 0;
  ASSERT_TRUE(loop->add(e.fd(), EPOLLIN, [&](std::uint32_t events) { seen = events; }).ok());
  ASSERT_TRUE(loop->modify(e.fd(), EPOLLOUT).ok());  // an eventfd is always writable
  EXPECT_EQ(*loop->run_once(1000), 1u);
  EXPECT_TRUE(seen & EPOLLOUT);
  ASSERT_TRUE(loop->remove(e.fd()).ok());
  EXPECT_FALSE(loop->contains(e.fd()));
  EXPECT_EQ(*loop->run_once(0), 0u);

  EXPECT_FALSE(loop->remove(e.fd()).ok());
  EXPECT_FALSE(loop->modify(e.fd(), EPOLLIN).ok());
  ASSERT_TRUE(loop->add(e.fd(), EPOLLIN, [](std::uint32_t) {}).ok());
  auto twice = loop->add(e.fd(), EPOLLIN, [](std::uint32_t) {});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message().find("watched already"), std::string::npos);
  EXPECT_FALSE(loop->add(-1, EPOLLIN, [](std::uint32_t) {}).ok());
}

TEST(EventLoop, ACallbackMayRemoveItselfAndOthers) {
  auto loop = make_loop();
  EventFd first = make_event();
  EventFd second = make_event();
  int calls = 0;
  auto remove_both = [&](std::uint32_t) {
    ++calls;
    EXPECT_TRUE(loop->remove(first.fd()).ok());
    EXPECT_TRUE(loop->remove(second.fd()).ok());
  };
  ASSERT_TRUE(loop->add(first.fd(), EPOLLIN, remove_both).ok());
  ASSERT_TRUE(loop->add(second.fd(), EPOLLIN, remove_both).ok());
  first.signal();
  second.signal();
  EXPECT_EQ(*loop->run_once(1000), 1u) << "the removed one's pending event is not delivered";
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, StopBeforeRunReturnsAtOnce) {
  auto loop = make_loop();
  loop->stop();
  EXPECT_TRUE(loop->run().ok());
}

TEST(EventLoop, StopFromAnotherThreadEndsRun) {
  auto loop = make_loop();
  EventFd e = make_event();
  int calls = 0;
  ASSERT_TRUE(loop->add(e.fd(), EPOLLIN,
                        [&](std::uint32_t) {
                          e.drain();
                          ++calls;
                        })
                  .ok());
  e.signal();
  std::thread stopper([&] { loop->stop(); });
  EXPECT_TRUE(loop->run().ok());  // sleeps in epoll_wait until the stop arrives
  stopper.join();
  // The loop can run again afterwards.
  e.signal();
  EXPECT_EQ(*loop->run_once(1000), 1u);
  EXPECT_GE(calls, 1);
}

TEST(TimerFd, FiresPeriodicallyInsideTheLoop) {
  auto loop = make_loop();
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok());
  std::uint64_t expirations = 0;
  ASSERT_TRUE(loop->add(timer->fd(), EPOLLIN,
                        [&](std::uint32_t) {
                          expirations += timer->drain();
                          if (expirations >= 3) loop->stop();
                        })
                  .ok());
  ASSERT_TRUE(timer->arm_periodic(std::chrono::milliseconds(1)).ok());
  EXPECT_TRUE(loop->run().ok());
  EXPECT_GE(expirations, 3u);
}

TEST(TimerFd, FiresOnceAndDisarms) {
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok());
  EXPECT_EQ(timer->drain(), 0u) << "never blocks";
  auto loop = make_loop();
  int calls = 0;
  ASSERT_TRUE(loop->add(timer->fd(), EPOLLIN,
                        [&](std::uint32_t) {
                          EXPECT_EQ(timer->drain(), 1u);
                          ++calls;
                        })
                  .ok());
  ASSERT_TRUE(timer->arm_once(std::chrono::milliseconds(1)).ok());
  EXPECT_EQ(*loop->run_once(2000), 1u);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(timer->arm_periodic(std::chrono::hours(1)).ok());
  ASSERT_TRUE(timer->disarm().ok());
  EXPECT_EQ(*loop->run_once(0), 0u);

  EXPECT_FALSE(timer->arm_periodic(std::chrono::nanoseconds(0)).ok());
  EXPECT_FALSE(timer->arm_once(std::chrono::nanoseconds(-1)).ok());
}

}  // namespace
}  // namespace uipsec
