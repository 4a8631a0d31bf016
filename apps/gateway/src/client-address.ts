import { inRange, parseCidr, parseIp, type IpBytes } from "./ip-address";

/** A list of addresses and CIDR ranges (IPv4 and IPv6) to match client addresses against. */
export class AddressList {
  private readonly ranges: { bytes: IpBytes; prefix: number }[];

  /** Entries that are neither an address nor a range are skipped (the config and the key's input rules refuse them). */
  constructor(entries: readonly string[]) {
    this.ranges = entries.flatMap((entry) => {
      const range = parseCidr(entry.trim());
      return range ? [range] : [];
    });
  }

  /** Whether `address` (a literal; IPv4-mapped IPv6 read as IPv4) lies in one of the entries. */
  includes(address: string | IpBytes | null | undefined): boolean {
    const bytes = typeof address === "string" ? parseIp(address) : address;
    return bytes !== null && bytes !== undefined && this.ranges.some((range) => inRange(bytes, range));
  }
}

/**
 * The client's address: the peer's, or, when the peer is one of the `trusted` proxies, the first hop of
 * `X-Forwarded-For` from the right that is not a trusted proxy (the hops left of it are the client's to forge).
 * A hop that is not an address stops the walk there: that hop is what the address is taken to be, and it matches nothing.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: AddressList | undefined): string {
  const address = peer ?? "";
  if (!trusted || forwardedFor === undefined || !trusted.includes(address)) return address;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "");
  let client = address;
  for (let index = hops.length - 1; index >= 0; index--) {
    client = hops[index]!;
    if (!trusted.includes(client)) return client;
  }
  // Every hop is a proxy: the leftmost is as close to the client as the chain tells.
  return client;
}
