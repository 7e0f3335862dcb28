/**
 * client-node's generated request types are classes (V1Lease, V1DeleteOptions…), but the serializer
 * only reads their fields: plain objects of the same shape serialise identically. `model<T>()` names
 * that conversion once (checking the top-level field names), instead of scattering casts.
 */
type Plain<T> = { [K in keyof T]?: unknown };

// eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type -- mapped over T's keys: concrete at every call site
export function model<T>(plain: Plain<T>): T {
  return plain as T;
}
