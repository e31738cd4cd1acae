// `prepack` of every published package: copies the repository's LICENSE into the package folder so
// that `pnpm pack` / `pnpm publish` (and `changeset publish`) ship it. The copies are git-ignored.
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

copyFileSync(fileURLToPath(new URL('../../LICENSE', import.meta.url)), 'LICENSE');
