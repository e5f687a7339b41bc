import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (works from both `gateway/` sources and `dist/gateway/`). */
export const packageRoot: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${'/'}dist${'/'}`) || here.endsWith('/dist/gateway') ? resolve(here, '../..') : resolve(here, '..');
})();
