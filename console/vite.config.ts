import { defineConfig } from "vite";

// Served by `growstack serve` at /console/ on the API's own origin. In development, `npm run
// dev` proxies the API to a running server (GROWSTACK_API, default http://127.0.0.1:3000).
const api = process.env.GROWSTACK_API ?? "http://127.0.0.1:3000";

export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { "/api": api, "/health": api } },
});
