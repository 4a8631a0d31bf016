import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const usage = `subrelay — operate a running gateway through its admin API

  subrelay groups add --name NAME --platform claude|openai|gemini [--mode single|mixed]
  subrelay groups list
  subrelay accounts add --name NAME --platform P --group ID [--group ID ...]
                        (--api-key KEY | --refresh-token TOKEN [--access-token TOKEN] [--expires-at EPOCH_MS]
                         [--project-id ID])
                        [--priority N] [--concurrency N] [--base-url URL] [--model M ...]
                        (Gemini OAuth: without --project-id, the gateway asks Code Assist for the project)
  subrelay accounts list
  subrelay accounts reset ID
  subrelay accounts delete ID
  subrelay keys add --name NAME --group ID [--expires-at ISO_DATE]
  subrelay keys list
  subrelay keys delete ID
  subrelay usage [--group-by account|key|model] [--from ISO_DATE] [--to ISO_DATE]

Environment: SUBRELAY_URL (default http://127.0.0.1:8080, or http://127.0.0.1:$ADMIN_PORT when ADMIN_PORT is set), ADMIN_TOKEN (default: read from DATA_DIR/admin-token,
DATA_DIR defaulting to ./.data).`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      platform: { type: "string" },
      mode: { type: "string" },
      group: { type: "string", multiple: true },
      "api-key": { type: "string" },
      "refresh-token": { type: "string" },
      "access-token": { type: "string" },
      "expires-at": { type: "string" },
      "project-id": { type: "string" },
      priority: { type: "string" },
      concurrency: { type: "string" },
      "base-url": { type: "string" },
      model: { type: "string", multiple: true },
      "group-by": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [resource, action, id] = positionals;
  if (values.help || !resource) return print(usage);
  const call = (method: string, path: string, body?: unknown) => request(method, path, body);
  const integer = (value: string | undefined) => (value === undefined ? undefined : Number.parseInt(value, 10));

  switch (`${resource} ${action ?? ""}`.trim()) {
    case "groups add":
      return print(await call("POST", "/admin/groups", { name: values.name, platform: values.platform, mode: values.mode }));
    case "groups list":
      return print(await call("GET", "/admin/groups"));
    case "accounts add": {
      const type = values["api-key"] ? "apikey" : "oauth";
      const credentials =
        type === "apikey"
          ? { apiKey: values["api-key"] }
          : {
              refreshToken: values["refresh-token"],
              accessToken: values["access-token"],
              expiresAt: integer(values["expires-at"]),
              projectId: values["project-id"],
            };
      return print(
        await call("POST", "/admin/accounts", {
          name: values.name,
          platform: values.platform,
          type,
          credentials: JSON.parse(JSON.stringify(credentials)) as unknown,
          groupIds: (values.group ?? []).map((group) => Number.parseInt(group, 10)),
          priority: integer(values.priority),
          concurrency: integer(values.concurrency),
          baseUrl: values["base-url"],
          models: values.model,
        }),
      );
    }
    case "accounts list":
      return print(await call("GET", "/admin/accounts"));
    case "accounts reset":
      return print(await call("POST", `/admin/accounts/${required(id, "ID")}/reset`));
    case "accounts delete":
      return print(await call("DELETE", `/admin/accounts/${required(id, "ID")}`));
    case "keys add":
      return print(
        await call("POST", "/admin/api-keys", {
          name: values.name,
          groupId: integer(values.group?.[0]),
          // Digits are epoch ms (the API reads a number so, and refuses a string of digits).
          expiresAt: /^\d+$/.test(values["expires-at"] ?? "") ? Number(values["expires-at"]) : values["expires-at"],
        }),
      );
    case "keys list":
      return print(await call("GET", "/admin/api-keys"));
    case "keys delete":
      return print(await call("DELETE", `/admin/api-keys/${required(id, "ID")}`));
    case "usage": {
      const query = new URLSearchParams();
      if (values["group-by"]) query.set("groupBy", values["group-by"]);
      if (values.from) query.set("from", values.from);
      if (values.to) query.set("to", values.to);
      return print(await call("GET", `/admin/usage?${query.toString()}`));
    }
    default:
      throw new Error(`unknown command "${positionals.join(" ")}"\n\n${usage}`);
  }
}

function adminToken(): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const path = join(resolve(process.env.DATA_DIR ?? "./.data"), "admin-token");
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    throw new Error(`no ADMIN_TOKEN set and none found at ${path}`);
  }
}

async function request(method: string, path: string, body?: unknown): Promise<unknown> {
  const base = (process.env.SUBRELAY_URL ?? defaultAdminUrl()).replace(/\/+$/, "");
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : { status: response.status };
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${text}`);
  return parsed;
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is required\n\n${usage}`);
  return value;
}

function print(value: unknown): void {
  process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value, null, 2)}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

/** The gateway's admin API on this machine: its own listener when ADMIN_PORT is set, else the main one. */
function defaultAdminUrl(): string {
  const port = process.env.ADMIN_PORT?.trim();
  if (!port) return "http://127.0.0.1:8080";
  const host = process.env.ADMIN_HOST?.trim();
  // A wildcard bind is reached on loopback.
  return `http://${!host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host}:${port}`;
}
