import { isIP } from "node:net";

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address; IPv4-mapped IPv6 addresses are read as their IPv4 address. */
export type IpBytes = Uint8Array;

/** The bytes of an IP address literal (brackets and an IPv6 zone allowed); null when `text` is not one. */
export function parseIp(text: string): IpBytes | null {
  const address = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const unzoned = address.split("%")[0]!;
  const family = isIP(unzoned);
  if (family === 4) return Uint8Array.from(unzoned.split(".").map(Number));
  if (family !== 6) return null;
  const bytes = parseIpv6(unzoned.toLowerCase());
  return isMapped(bytes) ? bytes.slice(12) : bytes;
}

/** An IP range, `10.0.0.0/8` or `fc00::/7` (or one address); null when `text` is not one. */
export function parseCidr(text: string): { bytes: IpBytes; prefix: number } | null {
  const [address = "", prefixText, ...rest] = text.split("/");
  const bytes = parseIp(address);
  if (!bytes || rest.length > 0) return null;
  const bits = bytes.length * 8;
  if (prefixText === undefined) return { bytes, prefix: bits };
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  let prefix = Number(prefixText);
  // A mapped IPv6 range (::ffff:10.0.0.0/104) is read as the IPv4 range it maps.
  if (bytes.length === 4 && isIP(address.split("%")[0]!) === 6) prefix -= 96;
  return prefix >= 0 && prefix <= bits ? { bytes, prefix } : null;
}

/** Whether `address` lies in `range` (of the same family). */
export function inRange(address: IpBytes, range: { bytes: IpBytes; prefix: number }): boolean {
  if (address.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let index = 0; bits > 0; index++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[index]! & mask) !== (range.bytes[index]! & mask)) return false;
  }
  return true;
}

/**
 * Ranges that are not the public internet: loopback, private, carrier-grade NAT, link-local (cloud metadata),
 * unique-local, "this network", documentation, benchmarking, multicast and reserved ranges.
 */
const nonPublic = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/96", // unspecified, loopback and the deprecated IPv4-compatible addresses
  "100::/64",
  "2001:db8::/32",
  "fc00::/7",
  "fe80::/10",
  "fec0::/10",
  "ff00::/8",
].map((range) => parseCidr(range)!);

/** IPv6 ranges that carry an IPv4 address (NAT64, 6to4): public only when that address is. */
const embedding = [
  { range: parseCidr("64:ff9b::/96")!, offset: 12 },
  { range: parseCidr("64:ff9b:1::/48")!, offset: 12 },
  { range: parseCidr("2002::/16")!, offset: 2 },
];

/** Whether an address is on the public internet (none of the ranges above, nor an IPv6 form of one). */
export function isPublicAddress(address: IpBytes): boolean {
  if (nonPublic.some((range) => inRange(address, range))) return false;
  for (const { range, offset } of embedding) {
    if (inRange(address, range)) return isPublicAddress(address.slice(offset, offset + 4));
  }
  return true;
}

function parseIpv6(address: string): IpBytes {
  const bytes = new Uint8Array(16);
  let tail = address;
  // An embedded IPv4 tail (::ffff:127.0.0.1) becomes two groups.
  const lastColon = tail.lastIndexOf(":");
  if (tail.includes(".", lastColon)) {
    const v4 = tail.slice(lastColon + 1).split(".").map(Number);
    tail = `${tail.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head = "", rest] = tail.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill("0"), ...restGroups];
  groups.forEach((group, index) => {
    const value = Number.parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function isMapped(bytes: IpBytes): boolean {
  for (let index = 0; index < 10; index++) if (bytes[index] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
