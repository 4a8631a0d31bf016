import { describe, expect, it } from "vitest";
import { inRange, isPublicAddress, parseCidr, parseIp } from "./ip-address";

describe("ip-address", () => {
  it("finds loopback, private, link-local and other non-public IPv4 and IPv6 addresses, in every spelling", () => {
    const nonPublic = [
      "127.0.0.1", "127.255.255.254", "0.0.0.0", "10.0.0.1", "100.64.0.1", "100.127.255.254", "169.254.169.254",
      "172.16.0.1", "172.31.255.255", "192.168.0.1", "224.0.0.1", "255.255.255.255",
      "::", "::1", "[::1]", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:a9fe:a9fe", "::ffff:10.0.0.1", "fc00::1",
      "fdff:ffff::1", "fe80::1", "fe80::1%eth0", "febf::1", "ff02::1", "64:ff9b::10.0.0.1", "2002:7f00:1::", "2001:db8::1",
    ];
    for (const address of nonPublic) expect(isPublicAddress(parseIp(address)!), address).toBe(false);
    const publicOnes = ["1.1.1.1", "93.184.216.34", "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"];
    for (const address of publicOnes) expect(isPublicAddress(parseIp(address)!), address).toBe(true);
  });

  it("reads IPv4-mapped IPv6 addresses and ranges as IPv4", () => {
    expect([...parseIp("::ffff:127.0.0.1")!]).toEqual([127, 0, 0, 1]);
    expect(inRange(parseIp("::ffff:10.1.2.3")!, parseCidr("10.0.0.0/8")!)).toBe(true);
    expect(inRange(parseIp("10.1.2.3")!, parseCidr("::ffff:10.0.0.0/104")!)).toBe(true);
    expect(inRange(parseIp("11.0.0.1")!, parseCidr("10.0.0.0/8")!)).toBe(false);
    expect(inRange(parseIp("fd00::5")!, parseCidr("fd00::/8")!)).toBe(true);
    expect(inRange(parseIp("fe00::5")!, parseCidr("fd00::/8")!)).toBe(false);
  });

  it("refuses what is not an address or a range", () => {
    for (const text of ["localhost", "1.2.3", "1.2.3.4.5", "::g", ""]) expect(parseIp(text), text).toBeNull();
    for (const text of ["10.0.0.0/33", "::/129", "10.0.0.0/8/8", "host/8", "10.0.0.0/x"]) expect(parseCidr(text), text).toBeNull();
  });
});
