/** Loads proto/tetragon.proto once, with options that make decoded objects look like the export JSON. */
import { existsSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import { packagePath } from '../../package-root.js';

/**
 * keepCase: snake_case keys as in the export; longs/enums/bytes as strings (64-bit ints as strings,
 * enum names, base64) like protojson; defaults false: unset fields stay absent (protojson omits
 * them); oneofs false: no extra discriminator keys. Wrappers and Timestamps still need normalise.ts.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
};

/** proto/tetragon.proto, shipped in the package (package.json `files`). */
export function defaultProtoPath(): string {
  const p = packagePath('proto', 'tetragon.proto');
  if (!existsSync(p)) throw new Error(`proto/tetragon.proto not found in the package (${p})`);
  return p;
}

let cached: { path: string; def: protoLoader.PackageDefinition } | undefined;

export function loadTetragonProto(path = defaultProtoPath()): protoLoader.PackageDefinition {
  if (cached?.path !== path) cached = { path, def: protoLoader.loadSync(path, LOADER_OPTIONS) };
  return cached.def;
}

/** Encode/decode one message type with the same options as the gRPC channel (benchmarks, fake servers). */
export function messageCodec(
  def: protoLoader.PackageDefinition,
  typeName: string,
): { serialize(obj: object): Buffer; deserialize(buf: Buffer): Record<string, unknown> } {
  const t = def[typeName] as unknown as
    { serialize(obj: object): Buffer; deserialize(buf: Buffer): Record<string, unknown> } | undefined;
  if (!t || typeof t.serialize !== 'function') throw new Error(`no message type ${typeName} in the proto`);
  return t;
}
