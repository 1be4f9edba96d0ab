#!/usr/bin/env node
// The `tidewatch` command. The code is TypeScript compiled to dist/ by `npm install` (prepare).
import('../dist/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/main.js')) {
    console.error(
      'tidewatch is not built yet: run `npm install` (or `npm run build`) at the repository root.',
    );
  } else {
    console.error(error);
  }
  process.exit(1);
});
