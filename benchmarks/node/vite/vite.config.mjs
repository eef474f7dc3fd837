// A Vite dev server whose WebSocket mocks do the benchmark's work (mock/bench.mock.mjs).
import { defineConfig } from "vite";
import { mockDevServerPlugin } from "vite-plugin-mock-dev-server";

export default defineConfig({
  logLevel: "info",
  clearScreen: false,
  server: { host: "127.0.0.1", strictPort: true },
  plugins: [mockDevServerPlugin({ wsPrefix: ["/echo", "/room"], log: "error" })],
});
