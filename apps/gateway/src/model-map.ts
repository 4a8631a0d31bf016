import type { ClientRequest, ProviderRegistry, ResponseCollector, ResponseShaper, SseEvent } from "@subrelay/providers-core";

/** An account's `modelMap`: client model name -> upstream model name; a key ending in `*` matches by prefix. */
export type ModelMap = Readonly<Record<string, string>>;

interface CompiledMap {
  exact: ReadonlyMap<string, string>;
  /** Prefix keys (without their `*`) with their targets, longest prefix first. */
  prefixes: ReadonlyArray<readonly [prefix: string, target: string]>;
}

// Compiled once per map object: snapshots are read-only and shared by every request of their bucket.
const compiled = new WeakMap<ModelMap, CompiledMap>();

function compile(map: ModelMap): CompiledMap {
  let found = compiled.get(map);
  if (found) return found;
  const exact = new Map<string, string>();
  const prefixes: Array<readonly [string, string]> = [];
  for (const [from, to] of Object.entries(map)) {
    if (typeof to !== "string" || to === "") continue;
    if (from.endsWith("*")) prefixes.push([from.slice(0, -1), to]);
    else exact.set(from, to);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  found = { exact, prefixes };
  compiled.set(map, found);
  return found;
}

/**
 * The upstream name `map` gives `model`: an exact key first, else the longest `prefix*` key `model` starts
 * with; undefined when no key matches (the name passes unchanged).
 */
export function mapModel(map: ModelMap | undefined, model: string): string | undefined {
  if (map === undefined) return undefined;
  const { exact, prefixes } = compile(map);
  const direct = exact.get(model);
  if (direct !== undefined) return direct;
  for (const [prefix, target] of prefixes) if (model.startsWith(prefix)) return target;
  return undefined;
}

/** The client names a map lists outright (its exact keys; a prefix key names no one model). */
export function mappedClientNames(map: ModelMap | undefined): string[] {
  return map === undefined ? [] : [...compile(map).exact.keys()];
}

/** `request` naming `model` instead: in the body too, except for Gemini, whose model is in the path. */
export function withModel(request: ClientRequest, model: string, dialect: string): ClientRequest {
  if (request.model === model) return request;
  const body = dialect === "gemini" && !("model" in request.body) ? request.body : { ...request.body, model };
  return { ...request, model, body };
}

/** `request` as `map` has it go upstream: the same object when the map does not rename its model. */
export function mappedRequest(request: ClientRequest, map: ModelMap | undefined, dialect: string): ClientRequest {
  if (map === undefined || request.model === "") return request;
  const upstream = mapModel(map, request.model);
  return upstream === undefined ? request : withModel(request, upstream, dialect);
}

/**
 * Model names that name the same model on a platform (a provider's `modelAliases`: an alias and the dated id
 * it stands for), for allow-lists: a list naming one accepts the others. Built per platform on first use.
 */
export class ModelAliases {
  private readonly byPlatform = new Map<string, ReadonlyMap<string, readonly string[]>>();

  constructor(private readonly providers: Pick<ProviderRegistry, "get">) {}

  /** The other names of `model` on `platform` (none when it has no alias). */
  equivalents(platform: string, model: string): readonly string[] {
    let index = this.byPlatform.get(platform);
    if (!index) {
      index = aliasIndex(this.providers.get(platform)?.modelAliases);
      this.byPlatform.set(platform, index);
    }
    return index.get(model) ?? NONE;
  }
}

const NONE: readonly string[] = [];

function aliasIndex(aliases: Readonly<Record<string, string>> | undefined): ReadonlyMap<string, readonly string[]> {
  const classes = new Map<string, Set<string>>();
  for (const [alias, target] of Object.entries(aliases ?? {})) {
    const members = classes.get(target) ?? new Set([target]);
    members.add(alias);
    classes.set(target, members);
  }
  const index = new Map<string, string[]>();
  for (const members of classes.values()) {
    for (const name of members) index.set(name, [...members].filter((other) => other !== name));
  }
  return index;
}

/** The fields an answer names its model in: Anthropic and OpenAI `model`, Gemini `modelVersion`. */
const MODEL_FIELDS = ["model", "modelVersion"] as const;
/** Where stream events nest the answer that names it: Anthropic `message_start`, Responses `response.*`. */
const NESTED = ["message", "response"] as const;

/**
 * The answer with every model field (top-level, or in an event's `message` / `response`) naming `model`: the
 * client sees the name it asked for, not the one the account was sent. Anything else is left as it is.
 */
export function renameModel(body: unknown, model: string): unknown {
  if (Array.isArray(body)) return body.map((item) => renameModel(item, model));
  if (typeof body !== "object" || body === null) return body;
  let out: Record<string, unknown> | undefined;
  const record = body as Record<string, unknown>;
  for (const field of MODEL_FIELDS) {
    if (typeof record[field] === "string" && record[field] !== model) (out ??= { ...record })[field] = model;
  }
  for (const field of NESTED) {
    const inner = record[field];
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) continue;
    const renamed = renameModel(inner, model);
    if (renamed !== inner) (out ??= { ...record })[field] = renamed;
  }
  return out ?? body;
}

function renameEvent(event: SseEvent, model: string): SseEvent {
  // Most events (text deltas) name no model: they are passed on without a parse.
  if (!event.data.includes('"model')) return event;
  let parsed: unknown;
  try {
    parsed = JSON.parse(event.data);
  } catch {
    return event;
  }
  const renamed = renameModel(parsed, model);
  return renamed === parsed ? event : { ...event, data: JSON.stringify(renamed) };
}

/**
 * A shaper that renames the answer's model to `model` (the client's name) after `inner` (the provider's
 * own, or none) shaped it: JSON bodies, stream events and collected streams.
 */
export function renamingShaper(inner: ResponseShaper | null, model: string): ResponseShaper {
  const shaper: ResponseShaper = {
    json: (body) => renameModel(inner ? inner.json(body) : body, model),
    event(event) {
      const shaped = inner ? inner.event(event) : event;
      if (shaped === null) return null;
      if (!isEventList(shaped)) return renameEvent(shaped, model);
      return shaped.map((one) => renameEvent(one, model));
    },
  };
  if (inner?.end) shaper.end = () => inner.end!().map((one) => renameEvent(one, model));
  if (inner?.collector) {
    shaper.collector = (): ResponseCollector => {
      const collecting = inner.collector!();
      return {
        event: (event) => collecting.event(event),
        finish() {
          const collected = collecting.finish();
          return collected.status < 400 ? { ...collected, body: renameModel(collected.body, model) } : collected;
        },
      };
    };
  }
  return shaper;
}

function isEventList(shaped: SseEvent | readonly SseEvent[]): shaped is readonly SseEvent[] {
  return Array.isArray(shaped);
}
