import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The built app (dist/) is served by the Viora server itself at `/`, on the same port as `/ws`.
// `npm run dev` serves it with hot reload instead and proxies the server's routes to
// VIORA_URL (default http://127.0.0.1:8080), so the app still talks to one origin.
const server = process.env.VIORA_URL || 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [preact()],
  build: {
    target: 'es2022',
    assetsDir: 'assets', // hashed file names: the server gives them a year-long immutable cache
    sourcemap: true,
  },
  server: {
    proxy: {
      '/ws': { target: server.replace(/^http/, 'ws'), ws: true },
      '/media': server,
    },
  },
});
