// The benchmarks' admin calls: the token every benchmarked gateway is started with, and a POST with it.

export const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123";

/** POSTs `body` to the admin API at `url` + `path`; a non-2xx answer throws with its status and text. */
export async function admin(url: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}
