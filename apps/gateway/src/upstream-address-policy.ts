import { lookup as dnsLookup } from "node:dns";
import { buildConnector } from "undici";
import { inRange, isPublicAddress, parseCidr, parseIp, type IpBytes } from "./ip-address";

/** A resolved address, as `dns.lookup(…, { all: true })` gives it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** DNS resolution with `dns.lookup`'s `{ all: true }` signature (inject one in tests). */
export type HostLookup = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (error: NodeJS.ErrnoException | null, addresses: ResolvedAddress[]) => void,
) => void;

export interface UpstreamAddressPolicyOptions {
  /**
   * `UPSTREAM_ALLOWLIST`: host names, IP addresses and CIDR ranges an account's base URL may reach although
   * they are not public, or over plain `http`. Empty: public `https` hosts only.
   */
  allowlist: readonly string[];
  /** DNS resolution, at admin time and at connect time. Default `dns.lookup`. */
  lookup?: HostLookup;
}

const errorCode = "ERR_UPSTREAM_ADDRESS_REFUSED";

/** A connection the policy refused: the host resolved to an address that is not public and not allowed. */
export class UpstreamAddressError extends Error {
  override readonly name = "UpstreamAddressError";
  readonly code = errorCode;
}

/**
 * Where an account's own base URL may point. Such a URL is an operator's input and would otherwise make the
 * gateway a proxy into the operator's network: it must be `https`, without user name, password, query or
 * fragment, to a host whose every address is public, unless the host is named in the allowlist (which also
 * permits plain `http` to it) or an address lies in an allowlisted range. Checked when the URL is set
 * (`baseUrlProblems`) and again on every connection (`connector`), so a name that resolves elsewhere later
 * (DNS rebinding) does not get through. The platforms' base URLs from the environment are the operator's
 * own: they do not go through this.
 */
export class UpstreamAddressPolicy {
  private readonly hosts = new Set<string>();
  private readonly ranges: Array<{ bytes: IpBytes; prefix: number }> = [];
  private readonly lookup: HostLookup;

  constructor(options: UpstreamAddressPolicyOptions) {
    for (const entry of options.allowlist) {
      const range = parseCidr(entry);
      if (range) this.ranges.push(range);
      else this.hosts.add(normaliseHost(entry));
    }
    this.lookup = options.lookup ?? dnsLookup;
  }

  /** What is wrong with `value` as an account's base URL, one message each; empty when it may be used. */
  async baseUrlProblems(value: string): Promise<string[]> {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return ["baseUrl is not a valid absolute URL."];
    }
    const problems: string[] = [];
    const host = normaliseHost(url.hostname);
    const named = this.isAllowlistedHost(host);
    if (url.protocol !== "https:" && !(url.protocol === "http:" && named)) {
      problems.push(
        url.protocol === "http:"
          ? `baseUrl must use https: plain http is allowed only to hosts named in UPSTREAM_ALLOWLIST, and ${host} is not.`
          : `baseUrl must be an https URL, not ${url.protocol}.`,
      );
    }
    if (url.username !== "" || url.password !== "") {
      problems.push("baseUrl must not carry a user name or password: an account's secret goes in its credentials.");
    }
    if (url.search !== "" || value.includes("?")) problems.push("baseUrl must not have a query string.");
    if (url.hash !== "" || value.includes("#")) problems.push("baseUrl must not have a fragment.");
    if (problems.length > 0 || (url.protocol !== "https:" && url.protocol !== "http:") || named) return problems;
    let addresses: ResolvedAddress[];
    try {
      addresses = parseIp(host) ? [{ address: host, family: 0 }] : await this.resolve(host);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return [`baseUrl's host ${host} could not be resolved${typeof code === "string" ? ` (${code})` : ""}.`];
    }
    const refused = addresses.find((address) => !this.allowsAddress(host, address.address));
    if (refused) {
      problems.push(
        `baseUrl's host ${host} ${refused.address === host ? "is" : `resolves to ${refused.address},`} a loopback, private, link-local or otherwise non-public address; name the host in UPSTREAM_ALLOWLIST to allow it.`,
      );
    }
    return problems;
  }

  /** Whether a connection to `host` may go to `address`. */
  allowsAddress(host: string, address: string): boolean {
    if (this.isAllowlistedHost(normaliseHost(host))) return true;
    const bytes = parseIp(address);
    if (!bytes) return false;
    return isPublicAddress(bytes) || this.ranges.some((range) => inRange(bytes, range));
  }

  /**
   * An undici connector that checks every connection: an IP literal host directly, a name through a lookup
   * that refuses the connection when any address it resolves to is not allowed. For the dispatcher of
   * accounts' own base URLs.
   */
  connector(options: buildConnector.BuildOptions = {}): buildConnector.connector {
    const guardedLookup = (
      hostname: string,
      lookupOptions: { all?: boolean; family?: number },
      callback: (error: NodeJS.ErrnoException | null, address: string | ResolvedAddress[], family?: number) => void,
    ) => {
      this.lookup(hostname, { all: true, family: lookupOptions.family }, (error, addresses) => {
        if (error) return callback(error, lookupOptions.all ? [] : "");
        const refused = addresses.find((address) => !this.allowsAddress(hostname, address.address));
        if (refused || addresses.length === 0) {
          return callback(refusal(hostname, refused?.address), lookupOptions.all ? [] : "");
        }
        if (lookupOptions.all) return callback(null, addresses);
        return callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
    const connect = buildConnector({ ...options, lookup: guardedLookup } as buildConnector.BuildOptions);
    return (connectOptions, callback) => {
      const host = connectOptions.hostname;
      // Node connects to an IP literal without a lookup: check it here.
      if (parseIp(host) && !this.allowsAddress(host, host)) {
        callback(refusal(host, host), null);
        return;
      }
      connect(connectOptions, callback);
    };
  }

  private isAllowlistedHost(host: string): boolean {
    if (this.hosts.has(host)) return true;
    const bytes = parseIp(host);
    return bytes !== null && this.ranges.some((range) => inRange(bytes, range));
  }

  private resolve(host: string): Promise<ResolvedAddress[]> {
    return new Promise((resolve, reject) => {
      this.lookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
    });
  }
}

function refusal(host: string, address: string | undefined): UpstreamAddressError {
  return new UpstreamAddressError(
    address === undefined
      ? `${host} resolved to no address`
      : `refused to connect to ${host} at ${address}: not a public address, and not in UPSTREAM_ALLOWLIST`,
  );
}

/** A host as compared with the allowlist: lower case, no brackets, no trailing dot. */
function normaliseHost(host: string): string {
  const lower = host.trim().toLowerCase().replace(/\.$/, "");
  return lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
}
