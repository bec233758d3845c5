#include "daemon/daemon_config.hpp"

#include <gtest/gtest.h>

namespace uipsec {
namespace {

Result<DaemonConfig> load(std::string_view text) {
  auto settings = Settings::parse_string(text, "uipsec.conf");
  if (!settings) return settings.error();
  return load_daemon_config(*settings);
}

TEST(DaemonConfig, EmptyFileMeansDefaults) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tun_name, "ipsec0");
  EXPECT_EQ(c->tun_mtu, 1400u);
  EXPECT_EQ(c->tun_mode, TunMode::kCreate);
  EXPECT_TRUE(c->manage_routes);
  EXPECT_EQ(c->route_table, 220u);
  EXPECT_EQ(c->route_rule_priority, 220u);
  EXPECT_EQ(c->nat_t_port, 4500);
  EXPECT_EQ(c->control_socket, "/run/uipsec/uipsec.ctl");
  EXPECT_EQ(c->replay_window, 32u);
  EXPECT_EQ(c->sequence_margin, std::uint64_t{1} << 24);
}

TEST(DaemonConfig, WorkersIsAutoOrACount) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->workers, 0u) << "auto";
  c = load("uipsec {\n  workers = auto\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->workers, 0u);
  c = load("uipsec {\n  workers = 4\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->workers, 4u);
  for (const char* bad : {"0", "65", "many", "-1"}) {
    auto refused = load(std::string("uipsec {\n  workers = ") + bad + "\n}\n");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().message().find("expected auto or 1..64"), std::string::npos)
        << refused.error().message();
    EXPECT_NE(refused.error().message().find("uipsec.conf:2"), std::string::npos)
        << refused.error().message();
  }
  EXPECT_EQ(workers_for(1), 1u);
  EXPECT_EQ(workers_for(2), 1u);
  EXPECT_EQ(workers_for(4), 2u);
  EXPECT_EQ(workers_for(16), 8u);
  EXPECT_EQ(workers_for(128), 8u);
}

TEST(DaemonConfig, TunPerVirtualIpIsOffUnlessAsked) {
  auto c = load("");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->tun_per_virtual_ip);
  c = load("uipsec {\n  tun_per_virtual_ip = yes\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_TRUE(c->tun_per_virtual_ip);
  auto refused = load("uipsec {\n  tun_per_virtual_ip = some\n}\n");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("tun_per_virtual_ip"), std::string::npos)
      << refused.error().message();
}

TEST(DaemonConfig, StateDirectoryIsAbsoluteOrEmptyForOff) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state_directory, "/var/lib/uipsec");
  EXPECT_EQ(c->sequence_reservation, std::uint64_t{1} << 20);
  c = load("uipsec {\n  state_directory =\n  sequence_reservation = 4096\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->state_directory, "");
  EXPECT_EQ(c->sequence_reservation, 4096u);
  c = load("uipsec {\n  state_directory = /tmp/x\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->state_directory, "/tmp/x");
  c = load("uipsec {\n  state_directory = relative/dir\n}\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("uipsec.conf:2"), std::string::npos) << c.error().message();
  EXPECT_FALSE(load("uipsec {\n  sequence_reservation = 1\n}\n").ok());
}

TEST(DaemonConfig, ReadsEveryKey) {
  auto c = load(R"(uipsec {
  tun {
    name = tun-a
    mtu = 1380
    mode = attach
  }
  routes {
    manage = no
    table = 221
    priority = 221
  }
  nat_t_port = 4501
  control_socket = /tmp/a.ctl
  replay_window = 1024
  spi_min = 0x1000
  spi_max = 0x1fff
  socket_buffer = 16m
  buffers = 1024
  sequence_margin = 0x100000
})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->tun_name, "tun-a");
  EXPECT_EQ(c->tun_mtu, 1380u);
  EXPECT_EQ(c->tun_mode, TunMode::kAttach);
  EXPECT_FALSE(c->manage_routes);
  EXPECT_EQ(c->route_table, 221u);
  EXPECT_EQ(c->nat_t_port, 4501);
  EXPECT_EQ(c->control_socket, "/tmp/a.ctl");
  EXPECT_EQ(c->replay_window, 1024u);
  EXPECT_EQ(c->spi_range.min, 0x1000u);
  EXPECT_EQ(c->spi_range.max, 0x1fffu);
  EXPECT_EQ(c->socket_buffer, 16u << 20);
  EXPECT_EQ(c->packet_buffers, 1024u);
  EXPECT_EQ(c->sequence_margin, 0x100000u);
}

TEST(DaemonConfig, RawEspIsYesNoOrAuto) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->raw_esp, RawEspMode::kAuto);
  for (auto [text, mode] :
       {std::pair{"yes", RawEspMode::kYes}, {"no", RawEspMode::kNo}, {"auto", RawEspMode::kAuto}}) {
    c = load(std::string("uipsec {\n  raw_esp = ") + text + "\n}\n");
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->raw_esp, mode) << text;
  }
  c = load("uipsec {\n  raw_esp = sometimes\n}\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("uipsec.conf:2"), std::string::npos) << c.error().message();
  EXPECT_NE(c.error().message().find("yes, no or auto"), std::string::npos);
}

TEST(DaemonConfig, IkePortAndKeepaliveInterval) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ike_port, 500);
  EXPECT_FALSE(c->ike_port_explicit);  // the default: a port that is taken is only a warning
  EXPECT_EQ(c->nat_keepalive_interval, 20u);
  c = load("uipsec {\n  ike_port = 0\n  nat_keepalive_interval = 5\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->ike_port, 0);
  EXPECT_TRUE(c->ike_port_explicit);
  c = load("uipsec {\n  ike_port = 500\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_TRUE(c->ike_port_explicit);  // named, even with the default value: must be bound
  c = load("uipsec {\n  ike_port = 0\n  nat_keepalive_interval = 5\n}\n");
  EXPECT_EQ(c->nat_keepalive_interval, 5u);
  c = load("uipsec {\n  ike_port = 4500\n}\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("must differ from nat_t_port"), std::string::npos);
  EXPECT_FALSE(load("uipsec {\n  nat_keepalive_interval = 3601\n}\n").ok());
}

TEST(DaemonConfig, BusyPollIsMicrosecondsUpToTenMilliseconds) {
  auto c = load("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->busy_poll_us, 50u);
  c = load("uipsec {\n  busy_poll = 0\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->busy_poll_us, 0u);
  c = load("uipsec {\n  busy_poll = 10000\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->busy_poll_us, 10000u);
  for (const char* bad : {"10001", "-1", "50us", "0x"}) {
    auto r = load(std::string("uipsec {\n  busy_poll = ") + bad + "\n}\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("busy_poll"), std::string::npos) << r.error().message();
  }
}

TEST(DaemonConfig, SequenceMarginZeroTurnsItOffAndTooLargeIsRefused) {
  auto off = load("uipsec {\n  sequence_margin = 0\n}\n");
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_EQ(off->sequence_margin, 0u);
  auto big = load("uipsec {\n  sequence_margin = 0x100000000\n}\n");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("uipsec.conf:2: uipsec.sequence_margin"), std::string::npos)
      << big.error().message();
}

TEST(DaemonConfig, ErrorsNameFileLineAndKey) {
  auto unknown = load("uipsec {\n  tun {\n    mtuu = 1400\n  }\n}\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("uipsec.conf:3"), std::string::npos)
      << unknown.error().message();
  EXPECT_NE(unknown.error().message().find("did you mean 'mtu'"), std::string::npos);

  auto mtu = load("uipsec {\n  tun {\n    mtu = big\n  }\n}\n");
  ASSERT_FALSE(mtu.ok());
  EXPECT_NE(mtu.error().message().find("uipsec.conf:3: uipsec.tun.mtu"), std::string::npos)
      << mtu.error().message();

  auto mode = load("uipsec {\n  tun {\n    mode = borrow\n  }\n}\n");
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.error().message().find("expected 'create' or 'attach'"), std::string::npos);

  auto section = load("charon {\n}\nswanctl {\n}\n");  // charon is shared, swanctl not
  ASSERT_FALSE(section.ok());

  auto range = load("uipsec {\n  spi_min = 0x2000\n  spi_max = 0x1000\n}\n");
  ASSERT_FALSE(range.ok());
}

TEST(DaemonConfig, StatesAndPoliciesInIpXfrmSyntax) {
  auto c = load(R"(uipsec {
  replay_window = 128
  states {
    out = src 198.18.0.1 dst 198.18.0.2 proto esp spi 0x1001 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 encap espinudp 4500 4500 0.0.0.0
    in = src 198.18.0.2 dst 198.18.0.1 proto esp spi 0x1002 reqid 1 mode tunnel replay-window 64 aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121315 128
  }
  policies {
    out = src 198.18.10.0/24 dst 198.18.20.0/24 dir out tmpl src 198.18.0.1 dst 198.18.0.2 proto esp reqid 1 mode tunnel
  }
})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->states.size(), 2u);
  EXPECT_EQ(c->states[0].name, "out");
  EXPECT_EQ(c->states[0].origin, "uipsec.conf:4");
  EXPECT_EQ(c->states[0].config.spi, Spi(0x1001));
  EXPECT_EQ(c->states[0].config.replay_window, 128u) << "the configured default";
  EXPECT_EQ(c->states[1].config.replay_window, 64u) << "an explicit window wins";
  ASSERT_EQ(c->policies.size(), 1u);
  EXPECT_EQ(c->policies[0].config.action, PolicyAction::kProtect);
}

TEST(DaemonConfig, BadStateNamesItsLineAndArgument) {
  auto c = load(
      "uipsec {\n  states {\n    x = src 198.18.0.1 dst 198.18.0.2 proto esp spi nope\n  }\n}\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("uipsec.conf:3: uipsec.states.x: spi"), std::string::npos)
      << c.error().message();
}

TEST(DaemonConfig, RoutingOptionsInStrongswanAndUipsecNames) {
  auto seed = load(R"(charon {
  plugins {
    kernel-netlink {
      fwmark = !0x42
    }
    socket-default {
      fwmark = 0x42
    }
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
  load_modular = yes
})");
  ASSERT_TRUE(seed.ok()) << seed.error().message();
  EXPECT_TRUE(seed->allow_peer_ts);
  EXPECT_EQ(seed->socket_mark, 0x42u);
  ASSERT_TRUE(seed->route_rule_mark);
  EXPECT_EQ(seed->route_rule_mark->value, 0x42u);
  EXPECT_EQ(seed->route_rule_mark->mask, 0xffffffffu);
  EXPECT_TRUE(seed->route_rule_mark_invert);

  auto own = load(R"(charon {
  plugins {
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
}
uipsec {
  routes {
    allow_peer_ts = no
    socket_mark = 7
    fwmark = 0x100/0xff00
    bypass_priority = 100
  }
})");
  ASSERT_TRUE(own.ok()) << own.error().message();
  EXPECT_FALSE(own->allow_peer_ts) << "uipsec's key wins";
  EXPECT_EQ(own->socket_mark, 7u);
  EXPECT_EQ(own->route_rule_mark->value, 0x100u);
  EXPECT_EQ(own->route_rule_mark->mask, 0xff00u);
  EXPECT_FALSE(own->route_rule_mark_invert);
  EXPECT_EQ(own->route_bypass_priority, 100u);

  auto defaults = load("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->allow_peer_ts);
  EXPECT_FALSE(defaults->socket_mark);
  EXPECT_FALSE(defaults->route_rule_mark);
  EXPECT_EQ(defaults->route_bypass_priority, 219u);

  auto bad = load(
      "charon {\n  plugins {\n    kernel-netlink {\n      fwmark = !0x42/zz\n"
      "    }\n  }\n}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("uipsec.conf:4: charon.plugins.kernel-netlink.fwmark: "
                                       "expected a mark [!]VALUE[/MASK]"),
            std::string::npos)
      << bad.error().message();
  auto above = load("uipsec {\n  routes {\n    bypass_priority = 220\n  }\n}\n");
  EXPECT_FALSE(above.ok()) << "BYPASS rules must come before table 220";
}

}  // namespace
}  // namespace uipsec
