import { networkErrorCode, type Verdict } from "@subrelay/providers-core";

/**
 * A request that got no answer (refused, reset, DNS, timeout) is the platform's or the network's fault,
 * never the account's: fail over and leave the account alone. The reason names the error code only, since
 * messages of some HTTP clients quote the request.
 */
export function classifyOpenAINetworkError(error: unknown): Verdict {
  const code = networkErrorCode(error);
  return { kind: "server", cause: "network", reason: code === undefined ? "network error" : `network ${code}` };
}
