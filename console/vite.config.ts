// Builds the console (Preact + TypeScript) into dist/console, served by the admin listener at /console/.
// No inline scripts or styles (the console's CSP is script-src 'self'; style-src 'self'), no CDN.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // The polyfill would be bundled (not inline), but every supported browser has modulepreload.
    modulePreload: { polyfill: false },
    // Assets as files, never data: URIs inlined into the bundle.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
