#include "parley/net/address_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace parley::net {
namespace {

uint32_t slot4(const char* ip) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a.sin_addr);
  return AddressTable::slot_of(reinterpret_cast<sockaddr*>(&a));
}

uint32_t slot6(const char* ip) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return AddressTable::slot_of(reinterpret_cast<sockaddr*>(&a));
}

TEST(AddressTable, SlotsByHostAndIpv6Prefix) {
  EXPECT_EQ(slot4("10.1.2.3"), slot4("10.1.2.3"));
  EXPECT_NE(slot4("10.1.2.3"), slot4("10.1.2.4"));
  EXPECT_EQ(slot6("2001:db8:1:2::1"), slot6("2001:db8:1:2:ffff::9"));  // one /64
  EXPECT_NE(slot6("2001:db8:1:2::1"), slot6("2001:db8:1:3::1"));
  EXPECT_EQ(slot6("::ffff:10.1.2.3"), slot4("10.1.2.3"));  // a mapped IPv4 host is that host
  sockaddr unknown{};
  unknown.sa_family = AF_UNIX;
  EXPECT_EQ(AddressTable::slot_of(&unknown), 0u);
}

TEST(AddressTable, CountsConnectionsUpToTheLimit) {
  AddressTable t;
  const uint32_t s = slot4("192.0.2.7");
  EXPECT_TRUE(t.acquire(s, 2));
  EXPECT_TRUE(t.acquire(s, 2));
  EXPECT_FALSE(t.acquire(s, 2));
  EXPECT_EQ(t.connections(s), 2u);
  t.release(s);
  EXPECT_TRUE(t.acquire(s, 2));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(t.acquire(s, 0));  // 0: no limit, still counted
  EXPECT_EQ(t.connections(s), 102u);
}

TEST(AddressTable, PacesFailedLogins) {
  AddressTable t;
  const uint32_t s = slot4("192.0.2.8");
  const uint64_t interval = 1000;
  uint64_t now = 50'000;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t.login_allowed(s, now, interval, 3)) << i;
    t.login_failed(s, now, interval);
  }
  EXPECT_FALSE(t.login_allowed(s, now, interval, 3));  // the burst of three is spent
  EXPECT_FALSE(t.login_allowed(s, now + 999, interval, 3));
  EXPECT_TRUE(t.login_allowed(s, now + 1000, interval, 3));  // one more per interval
  t.login_failed(s, now + 1000, interval);
  EXPECT_FALSE(t.login_allowed(s, now + 1000, interval, 3));
  EXPECT_TRUE(t.login_allowed(s, now + 10'000, interval, 3));
  EXPECT_TRUE(t.login_allowed(slot4("192.0.2.9"), now, interval, 3));  // others unaffected
}

}  // namespace
}  // namespace parley::net
