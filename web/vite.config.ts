import { defineConfig } from "vite";

// A single-page app served by the gateway at `/`; every request goes to /api/v1 on the same origin.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline polyfill script: the page runs under a CSP without 'unsafe-inline'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  // `npm run dev` in web/ with the shop on :3000 (SHOP_URL to change it).
  server: { proxy: { "/api": process.env.SHOP_URL ?? "http://127.0.0.1:3000" } },
});
