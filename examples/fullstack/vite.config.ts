import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'web',
  plugins: [react()],
  build: { outDir: '../dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  // One copy of each: the links and the app must share OpenTelemetry's globals and tRPC's/Apollo's classes.
  resolve: { dedupe: ['@opentelemetry/api', '@trpc/client', '@trpc/server', '@apollo/client', 'graphql', 'react'] },
});
