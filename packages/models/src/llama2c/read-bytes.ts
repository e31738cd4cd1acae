import { type FileSource, openFileSource } from '../io/file-source.js';

/**
 * Reads a whole (small) file: a path opened with {@link openFileSource} (missing files become an
 * `AssetNotFoundError`) and closed again, or a caller's {@link FileSource} read but left open.
 * @internal
 */
export async function readBytes(file: string | FileSource): Promise<{ bytes: Uint8Array; name: string }> {
  if (typeof file !== 'string') return { bytes: await file.read(0, file.size()), name: file.name };
  const source = await openFileSource(file);
  try {
    return { bytes: await source.read(0, source.size()), name: source.name };
  } finally {
    await source.close();
  }
}
