#!/usr/bin/python3
"""End to end with a real DHCPv6 server (Kea 2.2) and a real client (ISC dhclient), in namespaces.

    relay topology:  client ns --veth-- relay ns (regrelay relay) --veth-- server ns (kea-dhcp6)
                     (no address)       2001:db8:1::1 | 2001:db8:ffff::2    2001:db8:ffff::1

    snoop topology:  client ns --veth-- switch ns: bridge(client port, uplink), regrelay snoop
                     --veth-- router ns (regrelay relay) --veth-- server ns (kea-dhcp6)

    kea_e2e_test.py REGRELAY GROUP

Kea runs with tests/kea/kea-dhcp6.json.in (filled in for this run) and everything it writes in
the test's temporary directory. It takes the client's MAC only from option 79 ("mac-sources":
["client-link-addr-option"]) and reserves 2001:db8:1::abcd (subnet 1, chosen by the relay's
link-address) and 2001:db8:2::abcd (subnet 2, chosen by "interface-id": the switch's client
port name) for that MAC.

GROUP is one of:
  reservation     dhclient through `regrelay relay` gets the reserved 2001:db8:1::abcd: option 79
                  reached Kea with the client's MAC (Kea's lease: hwaddr = the MAC, source 8 =
                  client-link-addr-option)
  no-option79     the same with `regrelay relay --no-client-link-layer`: dhclient gets a pool
                  address (2001:db8:1::1000-1fff), not the reserved one; Kea's lease has no hwaddr
  snoop           dhclient through `regrelay snoop --install-filters` and `regrelay relay
                  --interface-id --no-client-link-layer` gets 2001:db8:2::abcd: Kea selected subnet
                  2 by the Interface-ID of the innermost relay level (the LDRA's port name, not the
                  router's interface name) and took the MAC from the LDRA's option 79 (the only one)
  addr-reg-enable an Information-request with ORO 148 through `regrelay relay` gets a Reply with
                  option 148 (length 0, defined in Kea as an empty custom option); one without 148
                  in its ORO gets a Reply without it

Exits 0 when every check passes, 1 otherwise, 77 (skip) when not root or Kea/dhclient is missing.
"""

import csv
import ipaddress
import os
import re
import select
import shutil
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lib  # noqa: E402
from lib import OPT_CLIENTID, OPT_ELAPSED, OPT_SERVERID, REPLY, client_msg, duid_ll, opt, parse_options  # noqa: E402

TEMPLATE = os.path.join(os.path.dirname(HERE), "kea", "kea-dhcp6.json.in")
KEA = shutil.which("kea-dhcp6") or "/usr/sbin/kea-dhcp6"
DHCLIENT = shutil.which("dhclient") or "/usr/sbin/dhclient"

RELAY_LINK = "2001:db8:1::1"
RELAY_UP = "2001:db8:ffff::2"
SERVER = "2001:db8:ffff::1"
CLIENT_MAC = "02:00:00:4b:ea:01"
RESERVED_1 = "2001:db8:1::abcd"
RESERVED_2 = "2001:db8:2::abcd"
POOL_1 = (ipaddress.ip_address("2001:db8:1::1000"), ipaddress.ip_address("2001:db8:1::1fff"))
OPT_ORO, OPT_DNS = 6, 23
INFORMATION_REQUEST = 11
HWADDR_SOURCE_CLIENT_ADDR_RELAY_OPTION = 8  # Kea's lease "hwaddr_source" for option 79


Checks = lib.Checks


# --- Kea and dhclient ----------------------------------------------------------------------------

def render(template: str, values: dict) -> str:
    """Replaces every @NAME@; an @NAME@ without a value is an error."""
    def sub(m):
        if m.group(1) not in values:
            raise KeyError(f"{TEMPLATE}: no value for @{m.group(1)}@")
        return values[m.group(1)]
    return re.sub(r"@([A-Z_]+)@", sub, template)


class Kea:
    """kea-dhcp6 in `ns`, listening on [SERVER]:547 of `iface`, with a private configuration."""

    def __init__(self, lab, ns, iface, snoop_port="unused-port"):
        self.lab = lab
        self.dir = lab.path("kea")
        os.makedirs(self.dir)
        with open(TEMPLATE) as f:
            text = render(f.read(), {"SERVER_IFACE": iface, "SERVER_ADDRESS": SERVER, "DATA_DIR": self.dir,
                                     "CLIENT_MAC": CLIENT_MAC, "SNOOP_PORT": snoop_port})
        self.config = os.path.join(self.dir, "kea-dhcp6.conf")
        with open(self.config, "w") as f:
            f.write(text)
        self.leases = os.path.join(self.dir, "kea-leases6.csv")
        # Kea 2.2 writes its pid file and log4cplus lock file under these (default /run/kea,
        # /var/run/kea); it has no other path outside the configuration.
        env = dict(os.environ, KEA_PIDFILE_DIR=self.dir, KEA_LOCKFILE_DIR=self.dir)
        self.proc = ns.spawn([KEA, "-c", self.config], name="kea", env=env)
        # DHCP6_STARTED comes after the configuration is applied and the sockets are open.
        self.proc.wait_log(r"DHCP6_STARTED", timeout=15)
        if "DHCPSRV_OPEN_SOCKET_FAIL" in self.proc.log():
            raise RuntimeError("kea could not open a socket:\n" + self.proc.log()[-2000:])

    def lease_rows(self) -> list[dict]:
        """Kea's memfile lease CSV (address, duid, ..., subnet_id, ..., hwaddr, ..., hwaddr_source)."""
        try:
            with open(self.leases, newline="") as f:
                return list(csv.DictReader(f))
        except FileNotFoundError:
            return []

    def log(self) -> str:
        return self.proc.log()


class Dhclient:
    """ISC dhclient -6 in `ns` on `iface`: private config, lease and pid files; a script that
    does nothing, so it leaves the namespace's addresses alone."""

    def __init__(self, lab, ns, iface, timeout=30):
        d = lab.path("dhclient")
        os.makedirs(d, exist_ok=True)
        self.conf, self.lease, self.pid = (os.path.join(d, n) for n in ("dhclient6.conf", "dhclient6.leases",
                                                                       "dhclient6.pid"))
        with open(self.conf, "w") as f:
            # -1: give up (exit 2) after `timeout` s instead of retrying for ever.
            f.write(f"timeout {timeout};\n")
        self.proc = ns.spawn([DHCLIENT, "-6", "-d", "-1", "-v", "-cf", self.conf, "-lf", self.lease, "-pf",
                              self.pid, "-sf", "/bin/true", iface], name="dhclient")

    def wait_address(self, timeout=30) -> str | None:
        """The IA_NA address of the lease dhclient writes once bound, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.lease) as f:
                    m = re.search(r"iaaddr ([0-9a-fA-F:]+) \{", f.read())
                if m:
                    return m.group(1)
            except FileNotFoundError:
                pass
            if self.proc.popen.poll() is not None:
                return None
            time.sleep(0.1)
        return None


# --- topologies ----------------------------------------------------------------------------------

class RelayTopology:
    """client -- relay (regrelay relay) -- server (Kea)."""

    def __init__(self, lab, binary, relay_args=()):
        self.lab = lab
        self.cli, self.rel, self.srv = lab.netns("cli"), lab.netns("rel"), lab.netns("srv")
        self.c_if, self.rc_if = lab.veth(self.cli, self.rel, mac_a=CLIENT_MAC)
        self.ru_if, self.s_if = lab.veth(self.rel, self.srv)
        self.rel.add_addr(self.rc_if, RELAY_LINK + "/64")
        self.rel.add_addr(self.ru_if, RELAY_UP + "/64")
        self.srv.add_addr(self.s_if, SERVER + "/64")
        lab.wait_ready()
        self.client_ll = self.cli.link_local(self.c_if)
        self.c_ifindex = self.cli.ifindex(self.c_if)
        self.kea = Kea(lab, self.srv, self.s_if)
        self.relay = self.rel.spawn([binary, "relay", "--client-iface", self.rc_if, "--server", SERVER,
                                     "--log-level", "debug", *relay_args], name="relay")
        self.relay.wait_log(r"relaying from " + re.escape(self.rc_if))


class SnoopTopology:
    """client -- switch (bridge + regrelay snoop) -- router (regrelay relay) -- server (Kea)."""

    def __init__(self, lab, binary):
        self.lab = lab
        self.cli, self.sw, self.rtr, self.srv = (lab.netns(r) for r in ("cli", "sw", "rtr", "srv"))
        self.c_if, self.sw_port = lab.veth(self.cli, self.sw, mac_a=CLIENT_MAC)
        self.sw_up, self.r_down = lab.veth(self.sw, self.rtr)
        self.r_up, self.s_if = lab.veth(self.rtr, self.srv)
        self.bridge = lab.bridge(self.sw, [self.sw_port, self.sw_up])
        self.rtr.add_addr(self.r_down, RELAY_LINK + "/64")
        self.rtr.add_addr(self.r_up, RELAY_UP + "/64")
        self.srv.add_addr(self.s_if, SERVER + "/64")
        lab.wait_ready()
        self.kea = Kea(lab, self.srv, self.s_if, snoop_port=self.sw_port)
        self.snoop = self.sw.spawn([binary, "snoop", "--client-port", self.sw_port, "--uplink", self.sw_up,
                                    "--install-filters", "--log-level", "debug"], name="snoop")
        self.snoop.wait_log(r"snooping uplink port " + re.escape(self.sw_up))
        # The router's level carries its own Interface-ID (--interface-id) and no option 79
        # (--no-client-link-layer): a subnet chosen by the port name and a lease with the MAC
        # can then only come from the LDRA's level.
        self.relay = self.rtr.spawn([binary, "relay", "--client-iface", self.r_down, "--server", SERVER,
                                     "--interface-id", "--no-client-link-layer", "--log-level", "debug"],
                                    name="relay")
        self.relay.wait_log(r"relaying from " + re.escape(self.r_down))


def lease_for(kea, address):
    rows = [r for r in kea.lease_rows() if r.get("address") == address]
    return rows[-1] if rows else None


# --- groups --------------------------------------------------------------------------------------

def group_reservation(c, lab, binary):
    t = RelayTopology(lab, binary)
    t0 = time.monotonic()
    addr = Dhclient(lab, t.cli, t.c_if).wait_address()
    print(f"measure: dhclient bound in {time.monotonic() - t0:.1f} s to {addr}", flush=True)
    c.eq(addr, RESERVED_1, "dhclient through regrelay relay gets the address reserved for its MAC")
    row = lease_for(t.kea, RESERVED_1)
    if c.check(row is not None, f"Kea's lease file has a lease for {RESERVED_1}",
               str(t.kea.lease_rows())):
        c.eq(row["hwaddr"], CLIENT_MAC, "Kea's lease: hwaddr = the client's MAC")
        c.eq(row["hwaddr_source"], str(HWADDR_SOURCE_CLIENT_ADDR_RELAY_OPTION),
             "Kea's lease: hwaddr_source 8 (taken from option 79)")
        c.eq(row["subnet_id"], "1", "Kea's lease: subnet 1 (selected by link-address 2001:db8:1::1)")
    c.check(re.search(r"DHCPSRV_CFGMGR_SUBNET6 retrieved subnet 2001:db8:1::/64 for address hint 2001:db8:1::1\b",
                      t.kea.log()), "Kea's log: subnet selected by the relay's link-address")
    c.check(re.search(rf"relay-forward \S+ xid \S+ peer {re.escape(t.client_ll)} mac {CLIENT_MAC}", t.relay.log()),
            "relay's debug log: Relay-forward of the client's message with its MAC")


def group_no_option79(c, lab, binary):
    t = RelayTopology(lab, binary, relay_args=["--no-client-link-layer"])
    t0 = time.monotonic()
    addr = Dhclient(lab, t.cli, t.c_if).wait_address()
    print(f"measure: dhclient bound in {time.monotonic() - t0:.1f} s to {addr}", flush=True)
    if c.check(addr is not None, "dhclient through regrelay relay --no-client-link-layer gets an address"):
        a = ipaddress.ip_address(addr)
        c.check(a != ipaddress.ip_address(RESERVED_1), "not the address reserved for its MAC", addr)
        c.check(POOL_1[0] <= a <= POOL_1[1], "an address from subnet 1's pool 2001:db8:1::1000-1fff", addr)
        row = lease_for(t.kea, addr)
        if c.check(row is not None, f"Kea's lease file has a lease for {addr}", str(t.kea.lease_rows())):
            c.eq(row["hwaddr"], "", "Kea's lease: no hwaddr (no option 79, the only MAC source)")
            c.eq(row["subnet_id"], "1", "Kea's lease: subnet 1")
    c.check(lease_for(t.kea, RESERVED_1) is None, f"Kea leased nothing at {RESERVED_1}")


def group_snoop(c, lab, binary):
    t = SnoopTopology(lab, binary)
    t0 = time.monotonic()
    addr = Dhclient(lab, t.cli, t.c_if).wait_address()
    print(f"measure: dhclient bound in {time.monotonic() - t0:.1f} s to {addr}", flush=True)
    c.eq(addr, RESERVED_2, f"dhclient through snoop + relay gets the address reserved in the subnet of "
                           f"interface-id \"{t.sw_port}\"")
    row = lease_for(t.kea, RESERVED_2)
    if c.check(row is not None, f"Kea's lease file has a lease for {RESERVED_2}", str(t.kea.lease_rows())):
        c.eq(row["subnet_id"], "2", "Kea's lease: subnet 2 (selected by the LDRA's Interface-ID)")
        c.eq(row["hwaddr"], CLIENT_MAC, "Kea's lease: hwaddr = the client's MAC (the LDRA's option 79)")
        c.eq(row["hwaddr_source"], str(HWADDR_SOURCE_CLIENT_ADDR_RELAY_OPTION), "Kea's lease: hwaddr_source 8")
    c.check(re.search(r"DHCPSRV_CFGMGR_SUBNET6_IFACE_ID selected subnet 2001:db8:2::/64", t.kea.log()),
            "Kea's log: subnet selected by interface-id")
    c.check(re.search(r"EVAL_RESULT Expression ldra-client-port evaluated to 1", t.kea.log()),
            "Kea's log: class ldra-client-port (relay6[1].option[18] = the port name) matched")
    c.check(re.search(rf"relay-forward \S+ xid \S+ peer \S+ mac {CLIENT_MAC} port {re.escape(t.sw_port)} hop 0",
                      t.snoop.log()), "snoop's debug log: Relay-forward from the client port with its MAC")
    c.check(re.search(rf"relay-reply \S+ xid \S+ to \S+ port {re.escape(t.sw_port)}", t.snoop.log()),
            "snoop's debug log: Relay-reply unwrapped onto the client port")
    c.eq(t.snoop.stop(), 0, "snoop: SIGTERM, exit status 0")
    m = re.search(rf"^{re.escape(t.sw_port)} \(client\): received (\d+) relayed-up (\d+) relayed-down (\d+) ",
                  t.snoop.log(), re.M)
    if c.check(m, "snoop's exit counters of the client port"):
        c.check(int(m.group(2)) >= 2 and int(m.group(3)) >= 2,
                "snoop relayed at least Solicit and Request up and Advertise and Reply down", m.group(0))
    c.check("removed nftables table bridge" in t.snoop.log(), "snoop removed its nftables filters on exit")


def group_addr_reg_enable(c, lab, binary):
    t = RelayTopology(lab, binary)
    sock = t.cli.udp(t.client_ll, lib.PORT_CLIENT, ifname=t.c_if)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, t.c_ifindex)
    duid = duid_ll(bytes.fromhex(CLIENT_MAC.replace(":", "")))

    def ask(xid, oro_codes):
        msg = client_msg(INFORMATION_REQUEST, xid, opt(OPT_CLIENTID, duid), opt(OPT_ELAPSED, b"\x00\x00"),
                         opt(OPT_ORO, b"".join(code.to_bytes(2, "big") for code in oro_codes)))
        # Information-request is retransmitted after 1 s (RFC 8415 INF_TIMEOUT); give it three tries.
        for _ in range(3):
            sock.sendto(msg, (lib.ALL_DHCP_RELAY_AGENTS_AND_SERVERS, lib.PORT_SERVER, 0, t.c_ifindex))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
                if not r:
                    break
                data, src = sock.recvfrom(65535)
                if len(data) >= 4 and data[0] == REPLY and int.from_bytes(data[1:4], "big") == xid:
                    return data, src
        return None, None

    data, src = ask(0x94a148, [OPT_DNS, lib.OPT_ADDR_REG_ENABLE])
    if c.check(data is not None, "Information-request with ORO 148 through the relay: a Reply reaches the client"):
        c.eq(src[0].split("%")[0], t.rel.link_local(t.rc_if), "the Reply comes from the relay's link-local")
        c.eq(src[1], lib.PORT_SERVER, "the Reply comes from port 547")
        opts = parse_options(data[4:])
        c.eq([v for code, v in opts if code == lib.OPT_ADDR_REG_ENABLE], [b""],
             "the Reply carries option 148 (OPTION_ADDR_REG_ENABLE) once, length 0")
        c.check(any(code == OPT_SERVERID for code, _ in opts), "the Reply carries Kea's Server Identifier")
        c.eq([v for code, v in opts if code == OPT_CLIENTID], [duid], "the Reply echoes the Client Identifier")

    data, _ = ask(0x94a000, [OPT_DNS])
    if c.check(data is not None, "Information-request without 148 in its ORO: a Reply reaches the client"):
        c.check(all(code != lib.OPT_ADDR_REG_ENABLE for code, _ in parse_options(data[4:])),
                "that Reply has no option 148 (Kea sends it when requested)")


GROUPS = {"reservation": group_reservation, "no-option79": group_no_option79, "snoop": group_snoop,
          "addr-reg-enable": group_addr_reg_enable}
LIMIT = 80  # seconds; ctest's TIMEOUT is 90


def main():
    return lib.run_groups("rrkea", GROUPS, LIMIT, log_chars=6000, timed=True,
                          needs=lambda g: [(KEA, "kea-dhcp6-server"), (DHCLIENT, "isc-dhcp-client")])


if __name__ == "__main__":
    sys.exit(main())
