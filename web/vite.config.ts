/** The web app's build; `npm start` builds it into a temporary directory and serves it (local/web-app.ts). */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const repoRoot = decodeURIComponent(new URL('..', import.meta.url).pathname);

export default defineConfig({
  root: decodeURIComponent(new URL('.', import.meta.url).pathname),
  plugins: [react()],
  // The app imports the SDK (client/) and shared config from outside web/ (for `vite` run by hand).
  server: { fs: { allow: [repoRoot] } },
  build: { sourcemap: true, chunkSizeWarningLimit: 1024 },
});
