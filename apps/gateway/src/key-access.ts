import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import type { ApiKeyGrant } from "./api-key-authenticator";
import { AddressList } from "./client-address";
import { GatewayError } from "./gateway-error";
import { mapModel, type ModelAliases } from "./model-map";

/** Parsed `allowedIps`, per list (a grant and its limits are cached together, so the list object lives as long). */
const parsedLists = new WeakMap<readonly string[], AddressList>();

/** Refuses (403) a request of a key whose `allowedIps` do not hold the client's address. */
export function checkClientAddress(grant: ApiKeyGrant, address: string): void {
  const allowed = grant.limits?.allowedIps;
  if (allowed === undefined) return;
  let list = parsedLists.get(allowed);
  if (!list) {
    list = new AddressList(allowed);
    parsedLists.set(allowed, list);
  }
  if (!list.includes(address)) {
    throw new GatewayError("permission", "This API key may not be used from this address.", { reason: "address_not_allowed" });
  }
}

/**
 * Whether a key whose `models` allow-list is `allowed` may have `account` serve `model`: the list names the
 * client's model, the name the account's model map sends upstream, or one of that name's aliases.
 */
export function keyAllowsModel(allowed: readonly string[], account: AccountSnapshot, model: string, aliases: ModelAliases): boolean {
  if (allowed.includes(model)) return true;
  const upstream = mapModel(account.modelMap, model) ?? model;
  if (upstream !== model && allowed.includes(upstream)) return true;
  return aliases.equivalents(account.platform, upstream).some((name) => allowed.includes(name));
}

/** The 403 of a model outside the key's allow-list. */
export function modelNotAllowed(model: string): GatewayError {
  return new GatewayError("permission", `The model "${model}" is not allowed for this API key.`, { reason: "model_not_allowed" });
}
