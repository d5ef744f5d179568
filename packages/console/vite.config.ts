import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `base: './'` keeps asset URLs relative, so the platform can serve dist/ from any mount point.
// In dev, /api (HTTP and the /api/v1/stream WebSocket) is proxied to a running platform.
const target = process.env.IIP_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/api': { target, ws: true, changeOrigin: true } } },
});
