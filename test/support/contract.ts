/**
 * Every response the e2e tests get through the gateway, checked against the OpenAPI document the
 * shop serves: its status must be declared for the operation, its required headers present, its
 * content type the declared one and its body valid against the declared schema (closed objects, so
 * an undeclared field fails too). A response that breaks the contract fails the test that got it.
 */
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

type Doc = Record<string, any>;

export interface ObservedResponse {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  /** The body as text (undefined when there was none). */
  text: string | undefined;
}

interface Route {
  template: string;
  regex: RegExp;
  /** Fewer templated segments first: a literal path wins over a template (OpenAPI's rule). */
  params: number;
}

/** "#/components/schemas/X" → a reference into the components registered under the id "openapi". */
const rewrite = (value: unknown): any => JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"openapi#/$defs/'));

export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly routes: Route[];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly doc: Doc) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: "openapi", $defs: rewrite(doc.components.schemas) });
    this.routes = Object.keys(doc.paths)
      .map((template) => {
        const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
        return { template, regex: new RegExp(`^${source}/?$`, "i"), params: (template.match(/\{/g) ?? []).length };
      })
      .sort((a, b) => a.params - b.params);
  }

  private schema(key: string, schema: unknown): ValidateFunction {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rewrite(schema));
      this.compiled.set(key, validate);
    }
    return validate;
  }

  private resolve(object: any): any {
    while (object?.$ref) object = object.$ref.split("/").slice(1).reduce((node: any, part: string) => node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], this.doc);
    return object;
  }

  /** The problems of one response (empty when it keeps the contract). */
  problems(observed: ObservedResponse): string[] {
    const path = new URL(observed.url).pathname;
    const method = observed.method.toLowerCase();
    const route = this.routes.find((r) => r.regex.test(path));
    const problems: string[] = [];
    const body = () => {
      try {
        return observed.text ? JSON.parse(observed.text) : undefined;
      } catch {
        return undefined;
      }
    };
    const validate = (key: string, schema: unknown, value: unknown) => {
      const check = this.schema(key, schema);
      if (!check(value)) problems.push(`body does not match the schema: ${this.ajv.errorsText(check.errors, { separator: "; " })}`);
    };
    const isJson = (observed.headers.get("content-type") ?? "").startsWith("application/json");

    const operation = route && this.doc.paths[route.template][method];
    if (!operation) {
      // Not an operation of the document (an unknown path, or a method the path does not answer):
      // what comes back is an error, in the one error shape, and a 405 says what is allowed.
      if (observed.status < 400) problems.push(`${observed.status} for an operation the document does not have`);
      if (route && observed.status !== 405) problems.push(`${observed.status} for a method the path does not answer (expected 405)`);
      if (observed.status === 405 && !observed.headers.get("allow")) problems.push("405 without an Allow header");
      if (observed.text && isJson) validate("Error", { $ref: "#/components/schemas/Error" }, body());
      return problems;
    }
    // Test-only routes (probe services) declare nothing to check.
    if (operation["x-undeclared"]) return problems;

    const declared = this.resolve(operation.responses[String(observed.status)] ?? operation.responses[`${String(observed.status)[0]}XX`] ?? operation.responses.default);
    if (!declared) return [`status ${observed.status} is not declared (declared: ${Object.keys(operation.responses).join(", ")})`];
    for (const [name, header] of Object.entries<any>(declared.headers ?? {})) {
      if (this.resolve(header).required && !observed.headers.has(name)) problems.push(`required header ${name} is missing`);
    }
    const content: Record<string, any> | undefined = declared.content;
    if (!content) {
      if (observed.text) problems.push(`a body where the document declares none: ${observed.text.slice(0, 200)}`);
      return problems;
    }
    const type = (observed.headers.get("content-type") ?? "").split(";")[0].trim();
    const media = content[type];
    if (!media) return [...problems, `content type "${type}" is not declared (declared: ${Object.keys(content).join(", ")})`];
    if (type === "application/json") {
      if (!observed.text) problems.push("no body where the document declares one");
      else validate(`${operation.operationId} ${observed.status}`, media.schema ?? {}, body());
    }
    return problems;
  }
}

const checkers = new Map<string, Promise<ContractChecker>>();

/** The checker for the shop at this origin, from the document it serves (fetched once). */
export function contractOf(origin: string): Promise<ContractChecker> {
  let checker = checkers.get(origin);
  if (!checker) {
    checker = fetch(`${origin}/api/v1/openapi.json`).then(async (res) => new ContractChecker((await res.json()) as Doc));
    checkers.set(origin, checker);
  }
  return checker;
}

/** Throws when the response breaks the contract of the shop that sent it. */
export async function assertKeepsContract(observed: ObservedResponse): Promise<void> {
  const checker = await contractOf(new URL(observed.url).origin);
  const problems = checker.problems(observed);
  if (problems.length) {
    throw new Error(`${observed.method} ${observed.url} → ${observed.status} breaks the API contract:\n- ${problems.join("\n- ")}\n${(observed.text ?? "").slice(0, 500)}`);
  }
}
