import { defineConfig } from 'vite';

// Plain TypeScript and the DOM, no framework: the whole app is one small script and one stylesheet,
// both external files so the collector can serve them under a strict Content-Security-Policy.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
