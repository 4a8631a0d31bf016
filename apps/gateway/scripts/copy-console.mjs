// After tsup: copies the built console (apps/console/dist) into dist/console, where the gateway serves it
// from by default. Without a built console it says so and succeeds: the gateway then answers /console with a 404.
import { cp, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const gateway = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(gateway, "..", "console", "dist");
const target = join(gateway, "dist", "console");

const built = await stat(join(source, "index.html")).then(
  (found) => found.isFile(),
  () => false,
);
await rm(target, { recursive: true, force: true });
if (built) {
  await cp(source, target, { recursive: true });
  console.log(`copied the console from ${source} to ${target}`);
} else {
  console.log(`no built console at ${source}; /console will answer 404 (build apps/console first)`);
}
