import { describe, expect, it } from "vitest";
import { AddressList, clientAddress } from "./client-address";

describe("AddressList", () => {
  it("matches addresses and ranges of both families, IPv4-mapped IPv6 as IPv4", () => {
    const list = new AddressList(["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]);
    expect(list.includes("203.0.113.7")).toBe(true);
    expect(list.includes("203.0.113.8")).toBe(false);
    expect(list.includes("10.200.0.1")).toBe(true);
    expect(list.includes("::ffff:10.1.2.3")).toBe(true);
    expect(list.includes("2001:db8:1::5")).toBe(true);
    expect(list.includes("2001:db9::5")).toBe(false);
    expect(list.includes("not an address")).toBe(false);
    expect(list.includes(undefined)).toBe(false);
  });
});

describe("clientAddress", () => {
  const trusted = new AddressList(["127.0.0.1", "10.0.0.0/8"]);

  it("is the peer's address without trusted proxies, whatever X-Forwarded-For says", () => {
    expect(clientAddress("198.51.100.1", "1.2.3.4", undefined)).toBe("198.51.100.1");
    expect(clientAddress("198.51.100.1", "1.2.3.4", trusted)).toBe("198.51.100.1");
  });

  it("is the first untrusted hop from the right when the peer is a trusted proxy", () => {
    expect(clientAddress("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", trusted)).toBe("203.0.113.9");
    expect(clientAddress("127.0.0.1", ["6.6.6.6", "203.0.113.9"], trusted)).toBe("203.0.113.9");
    expect(clientAddress("127.0.0.1", undefined, trusted)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "10.0.0.3, 10.0.0.2", trusted)).toBe("10.0.0.3");
    expect(clientAddress("127.0.0.1", "junk, 10.0.0.2", trusted)).toBe("junk");
  });
});
