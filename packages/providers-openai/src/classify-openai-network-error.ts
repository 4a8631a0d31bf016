import type { Verdict } from "@subrelay/providers-core";

/**
 * A request that got no answer (refused, reset, DNS, timeout) is the platform's or the network's fault,
 * never the account's: fail over and leave the account alone. The reason names the error code only, since
 * messages of some HTTP clients quote the request.
 */
export function classifyOpenAINetworkError(error: unknown): Verdict {
  if (typeof error === "object" && error !== null) {
    const code = (error as Record<string, unknown>).code;
    if (typeof code === "string" && /^[\w.-]{1,64}$/.test(code))
      return { kind: "server", reason: `network ${code}` };
    const name = (error as Record<string, unknown>).name;
    if (typeof name === "string" && /^[\w.-]{1,64}$/.test(name))
      return { kind: "server", reason: `network ${name}` };
  }
  return { kind: "server", reason: "network error" };
}
