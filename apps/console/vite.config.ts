import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves the build at /console/ (unknown /console/* paths get index.html). In development,
// `pnpm dev` proxies the admin API to a running gateway (SUBRELAY_URL, default http://127.0.0.1:8080) and
// presents the gateway's own origin, so its same-origin check on cookie-authed writes passes.
const gateway = process.env.SUBRELAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      "/admin": {
        target: gateway,
        changeOrigin: true,
        configure(proxy) {
          proxy.on("proxyReq", (request) => {
            if (request.getHeader("origin")) request.setHeader("origin", new URL(gateway).origin);
          });
        },
      },
    },
  },
});
