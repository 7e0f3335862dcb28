/**
 * gRPC objects ⇄ Tetragon export JSON. After proto-loader's options (src/sources/tetragon-grpc/proto.ts) three differences
 * from the JSON export remain: wrapper types arrive as {value}, Timestamps as
 * {seconds, nanos}, and a wrapper holding its zero value arrives as {} (proto3 omits the zero inside).
 * The walk is driven by the proto's own descriptors, so a field added to proto/tetragon.proto is
 * handled without touching this file.
 */
import type { PackageDefinition } from '@grpc/proto-loader';

type Plain = Record<string, unknown>;

interface FieldPlan {
  name: string;
  repeated: boolean;
  kind: 'wrapper' | 'timestamp' | 'message';
  /** Fully qualified type for 'message'; the wrapper's zero value for 'wrapper'. */
  type: string;
  zero: unknown;
}

interface DescriptorField {
  name: string;
  label: string;
  type: string;
  typeName: string;
}

const WRAPPER_ZERO: Record<string, unknown> = {
  'google.protobuf.UInt32Value': 0,
  'google.protobuf.Int32Value': 0,
  'google.protobuf.UInt64Value': '0',
  'google.protobuf.Int64Value': '0',
  'google.protobuf.BoolValue': false,
  'google.protobuf.StringValue': '',
  'google.protobuf.DoubleValue': 0,
  'google.protobuf.FloatValue': 0,
};
const TIMESTAMP = 'google.protobuf.Timestamp';

export class TetragonJson {
  private readonly plans = new Map<string, FieldPlan[]>();

  constructor(
    private readonly def: PackageDefinition,
    private readonly pkg = 'tetragon',
  ) {}

  /** gRPC-decoded object → export-JSON shape (in place; returns the same object). */
  fromGrpc(obj: Plain, typeName = `${this.pkg}.GetEventsResponse`): Plain {
    for (const f of this.plan(typeName)) {
      const v = obj[f.name];
      if (v === undefined || v === null) continue;
      if (f.repeated && !Array.isArray(v)) continue; // map<,> fields: plain string maps already
      if (Array.isArray(v)) obj[f.name] = v.map((x: unknown) => this.convertIn(f, x));
      else obj[f.name] = this.convertIn(f, v);
    }
    return obj;
  }

  /** Export JSON → object proto-loader can serialize (fake servers, benchmarks). Drops nulls. */
  toGrpc(json: Plain, typeName = `${this.pkg}.GetEventsResponse`): Plain {
    const out: Plain = {};
    const plans = new Map(this.plan(typeName).map((f) => [f.name, f]));
    for (const [k, v] of Object.entries(json)) {
      if (v === null || v === undefined) continue;
      const f = plans.get(k);
      if (!f) {
        out[k] = v; // scalars, enums, maps, unknown keys (ignored by the encoder)
        continue;
      }
      if (f.repeated && !Array.isArray(v)) out[k] = v;
      else if (Array.isArray(v))
        out[k] = v.filter((x) => x !== null).map((x: unknown) => this.convertOut(f, x));
      else out[k] = this.convertOut(f, v);
    }
    return out;
  }

  private convertIn(f: FieldPlan, v: unknown): unknown {
    if (f.kind === 'wrapper') return isPlain(v) ? (v.value ?? f.zero) : v;
    if (f.kind === 'timestamp') return isPlain(v) ? timestampToRfc3339(v) : v;
    return isPlain(v) ? this.fromGrpc(v, f.type) : v;
  }

  private convertOut(f: FieldPlan, v: unknown): unknown {
    if (f.kind === 'wrapper') return { value: v };
    if (f.kind === 'timestamp') return typeof v === 'string' ? rfc3339ToTimestamp(v) : v;
    return isPlain(v) ? this.toGrpc(v, f.type) : v;
  }

  private plan(typeName: string): FieldPlan[] {
    let p = this.plans.get(typeName);
    if (p) return p;
    const entry = this.def[typeName] as unknown as { type?: { field?: DescriptorField[] } } | undefined;
    if (!entry?.type?.field) throw new Error(`unknown message type ${typeName}`);
    p = [];
    for (const field of entry.type.field) {
      if (field.type !== 'TYPE_MESSAGE') continue;
      const resolved = this.resolve(field.typeName);
      const repeated = field.label === 'LABEL_REPEATED';
      if (resolved in WRAPPER_ZERO) {
        p.push({ name: field.name, repeated, kind: 'wrapper', type: resolved, zero: WRAPPER_ZERO[resolved] });
      } else if (resolved === TIMESTAMP) {
        p.push({ name: field.name, repeated, kind: 'timestamp', type: resolved, zero: undefined });
      } else if (this.def[resolved] !== undefined) {
        p.push({ name: field.name, repeated, kind: 'message', type: resolved, zero: undefined });
      }
      // else: a map entry type (handled as a plain object)
    }
    this.plans.set(typeName, p);
    return p;
  }

  /** Descriptor type names are relative to the package ("Process") or absolute ("google.protobuf.X"). */
  private resolve(typeName: string): string {
    const t = typeName.replace(/^\./, '');
    if (this.def[`${this.pkg}.${t}`] !== undefined) return `${this.pkg}.${t}`;
    return t;
  }
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** {seconds: "1696629837", nanos: 700327580} → "2023-10-06T22:03:57.700327580Z" (protojson: 0/3/6/9 digits). */
export function timestampToRfc3339(ts: Plain): string | undefined {
  const seconds = Number(ts.seconds ?? 0);
  const nanos = Number(ts.nanos ?? 0);
  const date = new Date(seconds * 1000);
  // Out of JS Date range (or garbage): treat the field as absent rather than throw.
  if (Number.isNaN(date.getTime()) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999)
    return undefined;
  const base = date.toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const digits = nanos % 1_000_000 === 0 ? 3 : nanos % 1000 === 0 ? 6 : 9;
  const frac = String(nanos).padStart(9, '0').slice(0, digits);
  return `${base}.${frac}Z`;
}

/** Inverse of timestampToRfc3339; accepts any RFC 3339 offset. */
export function rfc3339ToTimestamp(s: string): { seconds: string; nanos: number } {
  const m = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(s);
  if (!m) throw new Error(`not an RFC 3339 timestamp: ${s}`);
  const ms = Date.parse(`${m[1]!}${m[3]!}`);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 timestamp: ${s}`);
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number((m[2] ?? '').padEnd(9, '0') || '0') };
}
