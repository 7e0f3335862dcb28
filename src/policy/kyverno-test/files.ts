/**
 * Kyverno CLI test files (cli.kyverno.io/v1alpha1): `Test`, `Values`, `UserInfo`, parsed once at the edge
 * into typed values with zod. Unknown fields are kept (Kyverno's files carry many we do not use).
 */
import { z } from 'zod';

const stringList = z.array(z.string());

export const ResultEntry = z.looseObject({
  policy: z.string(),
  rule: z.string().optional(),
  resources: stringList.optional(),
  resource: z.string().optional(),
  resourceSpecs: z
    .array(
      z.looseObject({
        group: z.string().optional(),
        version: z.string().optional(),
        kind: z.string().optional(),
        namespace: z.string().optional(),
        name: z.string(),
      }),
    )
    .optional(),
  kind: z.string().optional(),
  result: z.string().transform((s) => s.trim()),
  isValidatingPolicy: z.boolean().optional(),
  namespace: z.string().optional(),
});
export type ResultEntry = z.infer<typeof ResultEntry>;

export const TestFile = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({ name: z.string().optional() }).optional(),
  name: z.string().optional(),
  policies: stringList.default([]),
  resources: stringList.default([]),
  variables: z.string().optional(),
  /**
   * Parameter objects for policies with paramKind/paramRef (Kyverno's `paramResources`): found by
   * paramRef's name, namespace or selector, never evaluated as resources.
   */
  paramResources: stringList.default([]),
  userinfo: z.string().optional(),
  context: z.string().optional(),
  /** PolicyException files (kyverno.io/v2 or policies.kyverno.io), as Kyverno's CLI reads them. */
  exceptions: stringList.default([]),
  results: z.array(ResultEntry).default([]),
});
export type TestFile = z.infer<typeof TestFile>;

const record = z.record(z.string(), z.unknown());

export const ValuesFile = z.looseObject({
  globalValues: record.optional(),
  policies: z
    .array(
      z.looseObject({
        name: z.string(),
        rules: z
          .array(
            z.looseObject({ name: z.string(), values: record.nullish(), foreachValues: record.nullish() }),
          )
          .nullish(),
        resources: z.array(z.looseObject({ name: z.string(), values: record.nullish() })).nullish(),
      }),
    )
    .nullish(),
  namespaceSelector: z
    .array(z.looseObject({ name: z.string(), labels: z.record(z.string(), z.string()).nullish() }))
    .nullish(),
  namespaces: z.array(record).nullish(),
});
export type ValuesFile = z.infer<typeof ValuesFile>;

export const UserInfoFile = z.looseObject({
  roles: stringList.nullish(),
  clusterRoles: stringList.nullish(),
  userInfo: z.looseObject({ username: z.string().optional(), groups: stringList.nullish() }).nullish(),
});
export type UserInfoFile = z.infer<typeof UserInfoFile>;
